FROM python:3.11-slim-bookworm
# WeasyPrint renders PDFs with Pango; gettext compiles translations.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b \
      fonts-dejavu-core gettext make \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN UV_PROJECT_ENVIRONMENT=/venv uv sync --locked --no-dev
ENV PATH="/venv/bin:$PATH" DJANGO_SETTINGS_MODULE=config.settings.production PYTHONUNBUFFERED=1
COPY . .
RUN SECRET_KEY=build FIELD_ENCRYPTION_KEY=build python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
