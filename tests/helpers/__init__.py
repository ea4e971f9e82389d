"""What more than one test package shares: helpers and fixtures (a conftest imports the fixtures it
needs from here; no test imports another package's conftest or another test module)."""
