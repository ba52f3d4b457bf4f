import Config

# A cluster run (bindings/elixir/test.sh's second part): the sentry list and
# the consensus come from the environment, as they would in a container.
if sentry = System.get_env("TEST_APP_SENTRY") do
  config :cloister,
    sentry: sentry |> String.split(",") |> Enum.map(&String.to_atom/1),
    consensus: String.to_integer(System.get_env("TEST_APP_CONSENSUS", "2")),
    magic?: true
end
