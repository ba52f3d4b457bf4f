# The :cluster tests need the other members: test.sh runs them with
# TEST_APP_SENTRY set (`mix test --only cluster`).
if System.get_env("TEST_APP_SENTRY"),
  do: ExUnit.start(),
  else: ExUnit.start(exclude: [:cluster])
