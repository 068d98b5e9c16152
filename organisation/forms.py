"""Forms of the organisation: the admin's sign-in and head office's unlock of a client address."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from organisation.sign_in import sign_in_refused


class StaffLoginForm(AdminAuthenticationForm):
    """The admin's sign-in: a right password for an account that may not use the admin (a partner's user) gets
    the wrong-password error and counts as a failed sign-in, as a wrong password would."""

    def confirm_login_allowed(self, user) -> None:
        try:
            super().confirm_login_allowed(user)
        except ValidationError:
            sign_in_refused(request=self.request, username=user.get_username())
            raise


class AddressUnlockForm(forms.Form):
    address = forms.GenericIPAddressField(
        label=_("Client address"),
        help_text=_("The address the failed sign-ins came from, as the server sees it (IPv4 or IPv6)."),
    )
