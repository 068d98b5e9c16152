from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.console import ConsoleCommand
from onboarding.diagram import render_admission_diagram

DEFAULT_OUTPUT = Path(settings.BASE_DIR) / "docs" / "admission-workflow.md"


class Command(ConsoleCommand):
    help = gettext_lazy("Write the admission workflow diagram (Mermaid) generated from the Partner state machine.")

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
        parser.add_argument(
            "--check", action="store_true", help=gettext_lazy("Fail if the file differs from the code.")
        )

    def handle(self, *args, output: Path, check: bool, **options):
        text = render_admission_diagram()
        if check:
            if not output.exists() or output.read_text(encoding="utf-8") != text:
                raise CommandError(_("%(file)s is out of date; run manage.py admission_diagram") % {"file": output})
            self.say(_("%(file)s is up to date.") % {"file": output})
            return
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        self.say(_("Wrote %(file)s") % {"file": output}, self.style.SUCCESS)
