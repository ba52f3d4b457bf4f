# These tests need a cloister of three nodes: run them with
# `mix cloister.test -n 3` (bindings/elixir/otp_test/run.sh does).
ExUnit.start()
