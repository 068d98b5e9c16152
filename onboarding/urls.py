"""URLs of the onboarding app under /api/v1/ (see config/urls.py)."""

app_name = "onboarding"

urlpatterns: list = []
