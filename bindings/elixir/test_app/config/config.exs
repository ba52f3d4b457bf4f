import Config

config :cloister,
  otp_app: :test_app,
  sentry: :"test_app.cluster.local",
  consensus: 1,
  listener: TestApp.Listener

import_config "#{config_env()}.exs"
