"""The staff admin site: sections and models in the order of the work, room for the lists on a laptop.

Installed in place of ``django.contrib.admin`` (``core.sites.StaffAdminConfig``), so ``admin.site`` and every
``@admin.register`` use it.
"""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig

# Sections in the order of the work — admission, ledger, settlement, statements, payments, performance — then the
# supporting ones; within a section the daily lists first, reference data last. Anything not named here
# follows, by name.
ADMIN_ORDER: dict[str, list[str]] = {
    "onboarding": ["partner", "partnerreview", "evidencerequirement", "evidencedownload"],
    "ledger": ["transaction", "ingestionbatch", "product", "agreement", "agreementversion", "sourcesystem"],
    "settlement": ["settlement", "settlementdispute", "settlementrun", "settlementperiod"],
    "statements": ["statement", "downloadevent", "partnerevent", "partnerwebhook", "statementissuer"],
    "payments": ["invoice", "paymentbatch"],
    "performance": ["branchscorecard", "tierproposal", "branchtarget", "tierrule"],
    "workspace": ["notification"],
    "portal": ["apitoken"],
    "organisation": ["user"],
}


def _position(order: list[str], key: str) -> tuple[int, str]:
    return (order.index(key) if key in order else len(order), key)


class StaffAdminSite(AdminSite):
    # The sidebar repeats the index and takes a fifth of a 1366-pixel screen from the lists.
    enable_nav_sidebar = False
    # Staff have no public site to view; the partners' portal is for partners.
    site_url = None
    # One sign for "nothing here" in every list and page (the admin's default is a hyphen).
    empty_value_display = "—"

    def get_app_list(self, request, app_label=None):
        apps = self._build_app_dict(request, app_label)
        sections = list(ADMIN_ORDER)
        app_list = sorted(apps.values(), key=lambda app: (_position(sections, app["app_label"]), str(app["name"])))
        for app in app_list:
            order = ADMIN_ORDER.get(app["app_label"], [])
            app["models"].sort(key=lambda model: (_position(order, model["object_name"].lower()), str(model["name"])))
        return app_list


class StaffAdminConfig(AdminConfig):
    default_site = "core.sites.StaffAdminSite"

    def ready(self) -> None:
        super().ready()
        # Periodic schedules are declared in code (CELERY_BEAT_SCHEDULE) and mirrored by django-celery-beat:
        # an edit in the admin would be overwritten, so its pages (English only) are not offered.
        from django.contrib import admin
        from django_celery_beat import models as beat

        for model in (beat.PeriodicTask, beat.IntervalSchedule, beat.CrontabSchedule, beat.SolarSchedule):
            if admin.site.is_registered(model):
                admin.site.unregister(model)
        if admin.site.is_registered(beat.ClockedSchedule):
            admin.site.unregister(beat.ClockedSchedule)
