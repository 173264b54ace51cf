"""An example Django project whose views hand work to Alsek (docs/recipes/django.md)."""
