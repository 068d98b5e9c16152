"""URLs of the performance app under /api/v1/ (see config/urls.py)."""

app_name = "performance"

urlpatterns: list = []
