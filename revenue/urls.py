"""URLs of the revenue app under /api/v1/ (see config/urls.py)."""

app_name = "revenue"

urlpatterns: list = []
