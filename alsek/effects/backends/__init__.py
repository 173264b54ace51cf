"""Storage backends: the Backend base class, Redis, DiskCache, lazy clients."""
