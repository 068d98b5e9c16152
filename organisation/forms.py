"""Forms of the organisation: the admin's sign-in."""

from __future__ import annotations

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

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
