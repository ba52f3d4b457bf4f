import Config

# Elixir Cloister's switch for tests: no net_kernel magic, one node alone.
config :cloister, magic?: false
