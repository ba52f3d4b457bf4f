import Config

# The article's block, with the node list it offers beside a service name:
# three BEAMs on one host, `iex --name a@127.0.0.1 -S mix` and so on.
config :cloister,
  otp_app: :article_app,
  sentry: ~w[a@127.0.0.1 b@127.0.0.1 c@127.0.0.1]a,
  consensus: 3,
  listener: ArticleApp.Listener

config :logger, level: :info
