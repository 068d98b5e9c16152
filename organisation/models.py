from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Branch(models.Model):
    """A branch (分行) of the bank, or head office (总行) itself."""

    code = models.CharField(_("code"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=64, unique=True)
    is_head_office = models.BooleanField(_("head office"), default=False)

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_head_office"],
                condition=models.Q(is_head_office=True),
                name="organisation_single_head_office",
            )
        ]
        permissions = [("access_all_branches", _("Can see and act on every branch's data"))]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person using the product: bank staff bound to a branch, or a partner's staff bound to a partner.

    Roles are Django groups (see ``organisation.roles``); ``branch`` and
    ``partner`` say whose data the user may see.
    """

    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    branch = models.ForeignKey(
        Branch,
        verbose_name=_("branch"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
    )
    partner = models.ForeignKey(
        "onboarding.Partner",
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    # The language of the e-mails the user is sent (notifications); empty: the product's language.
    language = models.CharField(
        _("language"),
        max_length=16,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Language of the e-mails you receive; empty: Simplified Chinese."),
    )

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(branch__isnull=True) | models.Q(partner__isnull=True),
                name="organisation_user_bank_or_partner",
                violation_error_message=_("A user belongs to a bank branch or to a partner, not both."),
            )
        ]
        permissions = [("unlock_sign_in", _("Can unlock sign-ins locked after failed attempts"))]

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username
