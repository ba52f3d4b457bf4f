%% Minimal JSON for the agent's control API (OTP 25 has no json module).
%% Objects decode to maps with binary keys, strings to binaries.
-module(cloister_json).
-export([decode/1, encode/1]).

decode(Bin) when is_binary(Bin) ->
    {V, Rest} = value(ws(Bin)),
    <<>> = ws(Rest),
    V.

ws(<<C, R/binary>>) when C =:= $\s; C =:= $\t; C =:= $\n; C =:= $\r -> ws(R);
ws(B) -> B.

value(<<${, R/binary>>) -> object(ws(R), #{});
value(<<$[, R/binary>>) -> array(ws(R), []);
value(<<$", R/binary>>) -> string(R, []);
value(<<"true", R/binary>>) -> {true, R};
value(<<"false", R/binary>>) -> {false, R};
value(<<"null", R/binary>>) -> {null, R};
value(B) -> number(B).

object(<<$}, R/binary>>, M) -> {M, R};
object(<<$", R/binary>>, M) ->
    {K, R1} = string(R, []),
    <<$:, R2/binary>> = ws(R1),
    {V, R3} = value(ws(R2)),
    case ws(R3) of
        <<$,, R4/binary>> -> object(ws(R4), M#{K => V});
        <<$}, R4/binary>> -> {M#{K => V}, R4}
    end.

array(<<$], R/binary>>, []) -> {[], R};
array(B, Acc) ->
    {V, R1} = value(B),
    case ws(R1) of
        <<$,, R2/binary>> -> array(ws(R2), [V | Acc]);
        <<$], R2/binary>> -> {lists:reverse([V | Acc]), R2}
    end.

string(<<$", R/binary>>, Acc) -> {unicode:characters_to_binary(lists:reverse(Acc)), R};
string(<<$\\, C, R/binary>>, Acc) when C =/= $u ->
    E = case C of $n -> $\n; $t -> $\t; $r -> $\r; $b -> $\b; $f -> $\f; _ -> C end,
    string(R, [E | Acc]);
string(<<"\\u", H:4/binary, "\\u", L:4/binary, R/binary>>, Acc)
  when H >= <<"D800">>, H =< <<"DBFF">>; H >= <<"d800">>, H =< <<"dbff">> ->
    Hi = binary_to_integer(H, 16), Lo = binary_to_integer(L, 16),
    string(R, [16#10000 + ((Hi - 16#D800) bsl 10) + (Lo - 16#DC00) | Acc]);
string(<<"\\u", H:4/binary, R/binary>>, Acc) ->
    string(R, [binary_to_integer(H, 16) | Acc]);
string(B, Acc) ->
    {C, R} = utf8(B),
    string(R, [C | Acc]).

utf8(<<C/utf8, R/binary>>) -> {C, R};
utf8(<<_, R/binary>>) -> {16#FFFD, R}.

number(B) -> number(B, []).
number(<<C, R/binary>>, Acc) when (C >= $0 andalso C =< $9); C =:= $-; C =:= $+;
                                  C =:= $.; C =:= $e; C =:= $E ->
    number(R, [C | Acc]);
number(R, Acc) ->
    S = lists:reverse(Acc),
    V = case lists:member($., S) orelse lists:member($e, S) orelse lists:member($E, S) of
            true -> list_to_float(S);
            false -> list_to_integer(S)
        end,
    {V, R}.

encode(V) -> iolist_to_binary(enc(V)).

enc(null) -> <<"null">>;
enc(true) -> <<"true">>;
enc(false) -> <<"false">>;
enc(I) when is_integer(I) -> integer_to_binary(I);
enc(F) when is_float(F) -> float_to_binary(F, [short]);
enc(A) when is_atom(A) -> enc(atom_to_binary(A, utf8));
enc(B) when is_binary(B) -> [$", esc(B), $"];
enc(M) when is_map(M) ->
    [${, lists:join($,, [[enc(to_bin(K)), $:, enc(V)] || {K, V} <- maps:to_list(M)]), $}];
enc(L) when is_list(L) -> [$[, lists:join($,, [enc(V) || V <- L]), $]].

to_bin(K) when is_atom(K) -> atom_to_binary(K, utf8);
to_bin(K) when is_list(K) -> unicode:characters_to_binary(K);
to_bin(K) when is_binary(K) -> K.

esc(B) -> [esc1(C) || <<C>> <= B].
esc1($") -> <<"\\\"">>;
esc1($\\) -> <<"\\\\">>;
esc1(C) when C < 16#20 -> io_lib:format("\\u~4.16.0b", [C]);
esc1(C) -> C.
