# The product's image: web (gunicorn), workers and beat all run from it (see compose.yaml and the Procfile).
# Everything is fetched at build; starting a container needs no network but the database and the broker.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

WORKDIR /app

# gettext, to compile the translations at build; the PostgreSQL client programs of the server's major version
# (compose.yaml's postgres:16), from PostgreSQL's own repository, for manage.py backup and restore: pg_dump refuses
# a newer server. The PDFs' Chinese font ships with the code (core/pdf/assets), so no system font is needed.
ARG POSTGRES_CLIENT_MAJOR=16
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gettext ca-certificates curl \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
       https://www.postgresql.org/media/keys/ACCC4CF8.asc \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt $(. /etc/os-release && echo "$VERSION_CODENAME")-pgdg main" \
       > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "postgresql-client-${POSTGRES_CLIENT_MAJOR}" \
    && apt-get purge -y curl && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/*

COPY requirements.txt .
RUN pip install --require-hashes -r requirements.txt

COPY . .

# Translations and static files (hashed, compressed) are part of the image. collectstatic loads the
# production settings, which require their variables: placeholders here, never used to serve.
RUN env -u DJANGO_SETTINGS_MODULE django-admin compilemessages --ignore=.venv >/dev/null \
    && DJANGO_SECRET_KEY=build-only-placeholder DJANGO_ALLOWED_HOSTS=build.invalid \
       DATABASE_URL=postgres://build.invalid/none CELERY_BROKER_URL=redis://build.invalid/0 \
       CACHE_URL=redis://build.invalid/1 PARTNER_PORTAL_BASE_URL=https://build.invalid \
       python manage.py collectstatic --no-input \
    && useradd --create-home --uid 10001 app \
    && mkdir -p media private metrics backups \
    && chown app:app media private metrics backups

USER app
EXPOSE 8000
CMD ["gunicorn", "--config", "deploy/gunicorn.conf.py", "config.wsgi"]
