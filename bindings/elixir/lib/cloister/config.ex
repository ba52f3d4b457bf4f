defmodule Cloister.Config do
  @moduledoc false
  # Elixir Cloister's `config :cloister` keys, mapped onto the Erlang
  # half's application environment before it starts:
  #
  #   sentry     atom (a DNS/service name) or a node list: as they are;
  #              nil, [] or [node()] on a node without distribution: none
  #              (the agent's nonode mode: no network, ready alone)
  #   magic?     false on a node without distribution: nonode mode too
  #   listener   kept as :elixir_listener; the Erlang half calls
  #              Cloister.Listener.Bridge, which hands the change to
  #              Cloister.Monitor (serially, outside the agent process)
  #   ring       Elixir Cloister's is a ring *name*; the Erlang half's
  #              `ring` is the placement algorithm (default | libring):
  #              any other value is kept as :ring_name, the algorithm
  #              stays libring
  #   otp_app, consensus: understood by the Erlang half as they are.

  @bridge Cloister.Listener.Bridge

  def apply! do
    env = Application.get_all_env(:cloister)

    case Keyword.get(env, :listener) do
      @bridge -> :ok
      nil -> put(:elixir_listener, Cloister.Listener.Default)
      :undefined -> put(:elixir_listener, Cloister.Listener.Default)
      mod -> put(:elixir_listener, mod)
    end

    put(:listener, @bridge)

    case Keyword.get(env, :ring) do
      r when r in [nil, :default, :libring, "default", "libring", 'default', 'libring'] ->
        if is_nil(r), do: put(:ring, :libring)

      name ->
        put(:ring_name, name)
        put(:ring, :libring)
    end

    alone? = not Node.alive?()
    nomagic? = alone? and Keyword.get(env, :magic?) == false

    sentry =
      case Keyword.get(env, :sentry) do
        _ when nomagic? -> :undefined
        nil -> :undefined
        [] -> :undefined
        [n] when alone? and n in [node(), :nonode@nohost] -> :undefined
        other -> other
      end

    put(:sentry, sentry)

    if nomagic? and is_nil(env[:naming]) do
      put(:naming, :nonode)
    end

    if is_nil(env[:consensus]), do: put(:consensus, 1)
    :ok
  end

  defp put(k, v), do: Application.put_env(:cloister, k, v)
end
