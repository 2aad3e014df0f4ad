"""Test-only firmware pieces and peers for the protocol, session, build and run tests."""
