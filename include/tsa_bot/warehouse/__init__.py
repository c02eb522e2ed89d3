"""The Postgres warehouse: connection, versioned migrations, loads and queries."""
