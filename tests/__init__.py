"""The test suite. Shared helpers live in tests/helpers/ and tests/html.py: pytest rewrites their
asserts too, so a failing check inside a helper explains itself as one in a test does."""

import pytest

pytest.register_assert_rewrite("tests.helpers", "tests.html", "tests.factories", "tests.detector.factories")
