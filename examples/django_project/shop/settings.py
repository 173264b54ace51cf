"""Settings of the example shop: just enough Django, plus where Alsek keeps its data."""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "shop.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "shop"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

# Alsek: a Redis URL in production; "memory" in tests; DiskCache otherwise.
ALSEK_REDIS_URL = os.environ.get("ALSEK_REDIS_URL", "")
ALSEK_BACKEND = os.environ.get("APP_BACKEND", "redis" if ALSEK_REDIS_URL else "disk")
