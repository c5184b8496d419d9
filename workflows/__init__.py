"""The case lifecycle, the working-day calendar and the background jobs."""
