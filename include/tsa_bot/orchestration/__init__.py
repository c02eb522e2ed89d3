"""What the DAG files call: the daily tasks' functions, task defaults, alerts, Celery settings."""
