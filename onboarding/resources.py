"""Bulk import and export of partners (CSV, XLSX) with django-import-export.

Import creates draft admission cases through ``partner_create`` — the same
rules as one case typed in the admin (credit-code check character, no
duplicate code, own branch only, an RM of that branch). It is all-or-nothing:
every row is validated, every bad row is reported with its number (1 = the
first row under the header) and reason, and if any row is bad nothing is
written. Export is limited to the partners the user may see, and neutralises
cells a spreadsheet would run as a formula.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet, TextChoices
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets

from core.errors import ApplicationError
from core.spreadsheets import formula_safe
from onboarding.models import AdmissionState, Partner, PartnerTier, PartnerType, RiskRating
from onboarding.selectors import branch_list, partner_list
from onboarding.services.partners import (
    LOOKUP_CHUNK,
    credit_codes_registered,
    partner_create_many,
    relationship_manager_ids,
)
from organisation.models import Branch, User


class ChoicesWidget(widgets.Widget):
    """A choice exported as its label; imported from its code or its label in any language."""

    def __init__(self, choices: type[TextChoices], **kwargs) -> None:
        super().__init__(**kwargs)
        self.choices = choices

    def clean(self, value, row=None, **kwargs):
        text = str(value if value is not None else "").strip()
        if not text:
            return None
        for member in self.choices:
            if text.lower() == member.value:
                return member.value
            for language in ("zh-hans", "en"):
                with translation.override(language):
                    if text == str(member.label):
                        return member.value
        raise ValueError(
            _("“%(value)s” is not one of: %(choices)s.")
            % {"value": text, "choices": ", ".join(f"{m.value} ({m.label})" for m in self.choices)}
        )

    def render(self, value, obj=None, **kwargs):
        return str(self.choices(value).label) if value else ""


class TextWidget(widgets.Widget):
    """Text, stripped; a number typed into a spreadsheet cell (a phone, an account) becomes its digits."""

    def clean(self, value, row=None, **kwargs):
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).strip()


class AmountWidget(widgets.DecimalWidget):
    def clean(self, value, row=None, **kwargs):
        try:
            return super().clean(value, row, **kwargs)
        except (InvalidOperation, ValueError):
            raise ValueError(_("“%(value)s” is not a number.") % {"value": value}) from None


class RateWidget(AmountWidget):
    """A rate as a fraction (0.06) or a percentage ("6.00%", as the labelled export writes it in CSV)."""

    def clean(self, value, row=None, **kwargs):
        text = str(value if value is not None else "").strip()
        if text.endswith("%"):
            number = super().clean(text[:-1].strip(), row, **kwargs)
            return None if number is None else number / 100
        return super().clean(value, row, **kwargs)


class LookupWidget(widgets.ForeignKeyWidget):
    """A foreign key by a readable key (branch code, username) with a clear message when unknown.

    The objects a file names are fetched once per file (:meth:`prefetch`), not once per row.
    """

    def __init__(self, model, field: str, what: str, **kwargs) -> None:
        super().__init__(model, field, **kwargs)
        self.what = what
        self.known: dict[str, object] | None = None

    def prefetch(self, keys: set[str], *, also: tuple = ()) -> None:
        wanted = sorted(keys)
        self.known = {getattr(obj, self.field): obj for obj in also if obj is not None}
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start : start + LOOKUP_CHUNK]
            self.known.update(
                {getattr(o, self.field): o for o in self.model.objects.filter(**{f"{self.field}__in": chunk})}
            )

    def clean(self, value, row=None, **kwargs):
        text = str(value if value is not None else "").strip()
        if not text:
            return None
        if self.known is not None:
            found = self.known.get(text)
        else:
            found = self.get_queryset(text, row).filter(**{self.field: text}).first()
        if found is None:
            raise ValueError(_("Unknown %(what)s “%(value)s”.") % {"what": self.what, "value": text})
        return found


class PartnerResource(resources.ModelResource):
    partner_type = fields.Field("partner_type", "partner_type", ChoicesWidget(PartnerType))
    legal_name = fields.Field("legal_name", "legal_name", TextWidget())
    credit_code = fields.Field("credit_code", "credit_code", TextWidget())
    legal_representative = fields.Field("legal_representative", "legal_representative", TextWidget())
    registered_capital = fields.Field(
        "registered_capital", "registered_capital", AmountWidget(), default=Decimal("0.00")
    )
    contact_name = fields.Field("contact_name", "contact_name", TextWidget())
    contact_phone = fields.Field("contact_phone", "contact_phone", TextWidget())
    contact_email = fields.Field("contact_email", "contact_email", TextWidget())
    settlement_account_name = fields.Field("settlement_account_name", "settlement_account_name", TextWidget())
    settlement_bank = fields.Field("settlement_bank", "settlement_bank", TextWidget())
    settlement_account_no = fields.Field("settlement_account_no", "settlement_account_no", TextWidget())
    branch = fields.Field("branch", "branch", LookupWidget(Branch, "code", _("branch code")))
    relationship_manager = fields.Field(
        "relationship_manager", "relationship_manager", LookupWidget(User, "username", _("user name"))
    )
    risk_rating = fields.Field("risk_rating", "risk_rating", ChoicesWidget(RiskRating), default=RiskRating.MEDIUM)
    vat_rate = fields.Field("vat_rate", "vat_rate", RateWidget(), default=Decimal("0.0600"))
    # Export only: the case as it stands.
    state = fields.Field("state", "state", ChoicesWidget(AdmissionState), readonly=True)
    tier = fields.Field("tier", "tier", ChoicesWidget(PartnerTier), readonly=True)

    class Meta:
        model = Partner
        fields = (
            "partner_type",
            "legal_name",
            "credit_code",
            "legal_representative",
            "registered_capital",
            "contact_name",
            "contact_phone",
            "contact_email",
            "settlement_account_name",
            "settlement_bank",
            "settlement_account_no",
            "branch",
            "relationship_manager",
            "risk_rating",
            "vat_rate",
            "state",
            "tier",
        )
        # Import only ever creates cases: an existing credit code is a duplicate, not an update.
        force_init_instance = True
        clean_model_instances = True
        use_transactions = True
        skip_diff = True
        # Rows are validated one by one and written a thousand at a time by partner_create_many.
        use_bulk = True
        batch_size = LOOKUP_CHUNK

    def __init__(self, *, user: User | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.user = user

    # ---- import ------------------------------------------------------------------------

    def import_data(self, dataset, dry_run=False, raise_errors=False, use_transactions=None, **kwargs):
        if self.user is None or not self.user.has_perm("onboarding.import_partner"):
            raise PermissionError("partner import needs a user with onboarding.import_partner")
        # All or nothing, whoever calls: one invalid row rolls back every row.
        kwargs["rollback_on_validation_errors"] = True
        return super().import_data(dataset, dry_run=dry_run, raise_errors=raise_errors, use_transactions=True, **kwargs)

    def before_import(self, dataset, **kwargs):
        """What the rows refer to, fetched once for the file: branches, users, RMs, codes already registered.

        Headers may be the field names or the labelled export's headers (the verbose names, in Chinese or English).
        """
        dataset.headers = [_header_field(header) for header in (dataset.headers or [])]

        def column(name: str) -> set[str]:
            if name not in (dataset.headers or []):
                return set()
            return {str(v).strip() for v in dataset[name] if v is not None and str(v).strip()}

        self.fields["branch"].widget.prefetch(column("branch"), also=(self.user.branch,))
        self.fields["relationship_manager"].widget.prefetch(column("relationship_manager"), also=(self.user,))
        users = self.fields["relationship_manager"].widget.known.values()
        self.rm_ids = relationship_manager_ids(user_ids=(u.pk for u in users))
        self.branch_ids_in_scope = set(branch_list(user=self.user).values_list("pk", flat=True))
        self.codes_registered = credit_codes_registered(codes={c.upper() for c in column("credit_code")})
        self.codes_in_file: set[str] = set()

    def import_instance(self, instance, row, **kwargs):
        errors = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        # The importer's branch, and the importer as RM, when the file leaves them out.
        if instance.branch_id is None and "branch" not in errors:
            instance.branch = self.user.branch
        if instance.relationship_manager_id is None and "relationship_manager" not in errors:
            instance.relationship_manager = self.user
        instance.credit_code = str(instance.credit_code or "").strip().upper()
        if errors:
            raise ValidationError(errors)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """The rules of ``partner_create``, per row, against what :meth:`before_import` fetched for the file."""
        errors = dict(import_validation_errors or {})
        branch = instance.branch if instance.branch_id else None
        if "branch" not in errors:
            if branch is None:
                errors["branch"] = [_("Give the branch code of the owning branch.")]
            elif branch.pk not in self.branch_ids_in_scope:
                errors["branch"] = [
                    _("You can only import partners of your own branch (%(branch)s).") % {"branch": self.user.branch}
                ]
        rm = instance.relationship_manager if instance.relationship_manager_id else None
        if "relationship_manager" not in errors and branch is not None and "branch" not in errors:
            if rm is None or rm.pk not in self.rm_ids or rm.branch_id != branch.pk:
                errors["relationship_manager"] = [
                    _("%(user)s is not a relationship manager of %(branch)s.") % {"user": rm or "-", "branch": branch}
                ]
        code = instance.credit_code
        if code and (code in self.codes_registered or code in self.codes_in_file):
            errors.setdefault("credit_code", []).append(Partner._meta.get_field("credit_code").error_messages["unique"])
        self.codes_in_file.add(code)
        # The references and the code's uniqueness are checked above for the whole file; the rest of the model's
        # rules (field validators, the credit code's structure, the check constraints) here.
        exclude = [*errors.keys(), "state", "branch", "relationship_manager", "created_by", "assigned_reviewer"]
        try:
            instance.full_clean(exclude=exclude, validate_unique=False)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def bulk_create(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        # A preview writes nothing, and a file with a bad row is rolled back whole: neither needs the inserts.
        bad = result is not None and (result.has_errors() or result.has_validation_errors())
        try:
            if self.create_instances and not dry_run and not bad:
                partner_create_many(
                    by=self.user, partners=self.create_instances, comment=str(_("Imported from a file."))
                )
        except (ApplicationError, ValidationError) as exc:
            self.handle_import_error(result, exc, raise_errors)
        finally:
            self.create_instances.clear()

    # ---- export ------------------------------------------------------------------------

    def filter_export(self, queryset: QuerySet[Partner], **kwargs) -> QuerySet[Partner]:
        # Scope again here, so no caller can export partners of another branch by passing a wider queryset.
        visible = partner_list(user=self.user) if self.user is not None else Partner.objects.none()
        return queryset.filter(pk__in=visible.values("pk")).select_related("branch", "relationship_manager")

    def export_field(self, field, instance, **kwargs):
        return formula_safe(super().export_field(field, instance, **kwargs))

    def dehydrate_branch(self, partner: Partner) -> str:
        return partner.branch.code

    def dehydrate_relationship_manager(self, partner: Partner) -> str:
        return partner.relationship_manager.username


def _labels_of(name: str) -> set[str]:
    label = Partner._meta.get_field(name).verbose_name
    found = set()
    for language in ("zh-hans", "en"):
        with translation.override(language):
            found.add(str(label).strip().lower())
    return found


def _header_field(header) -> str:
    """The field a header names: its field name, or its verbose name in either language (any case)."""
    text = str(header if header is not None else "").strip()
    if text in PartnerResource._meta.fields:
        return text
    for name in PartnerResource._meta.fields:
        if text.lower() in _labels_of(name):
            return name
    return text


def import_errors(result) -> list[tuple[int, str]]:
    """Every bad row of an import result as (row number, reason), in row order."""
    rows: list[tuple[int, str]] = []
    for invalid in result.invalid_rows:
        reasons = []
        for field, messages in invalid.error_dict.items():
            prefix = "" if field == NON_FIELD_ERRORS else f"{field}: "
            reasons.extend(prefix + str(m) for m in messages)
        rows.append((invalid.number, "; ".join(reasons)))
    for error_row in result.error_rows:
        rows.append((error_row.number, "; ".join(str(e.error) for e in error_row.errors)))
    for error in result.base_errors:
        rows.append((0, str(error.error)))
    return sorted(rows)
