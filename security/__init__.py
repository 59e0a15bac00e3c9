"""Authentication, limits and hygiene for the service, as FastAPI dependencies and middleware."""
