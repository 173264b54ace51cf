"""Storage: backends, serializers and result stores (``alsek.storage``)."""
