import Config

config :cloister,
  otp_app: :v18_app,
  sentry: ~w[a@127.0.0.1 b@127.0.0.1 c@127.0.0.1]a,
  consensus: 3,
  listener: V18App.Listener

config :logger, level: :info
