%% @doc Erlang terms as JSON can carry them, for what aion shows people and scripts (the
%% command line's `--json', the dashboard's API): summaries and events hold atom keys,
%% tagged tuples (a blocked reason) and binaries that may not be text.
-module(aion_term).

-export([jsonable/1, printed/1]).

%% @doc `Term' as a JSON-compatible term: maps with binary keys, lists, binaries (valid
%% UTF-8), numbers, `true', `false', `null'. Other atoms become strings, `{Atom, Value}'
%% an object `{"Atom": Value}', strings that are not UTF-8 and any other term their
%% printed text.
-spec jsonable(term()) -> term().
jsonable(A) when A =:= null; A =:= true; A =:= false -> A;
jsonable(A) when is_atom(A) -> atom_to_binary(A);
jsonable(N) when is_number(N) -> N;
jsonable(B) when is_binary(B) ->
    case unicode:characters_to_binary(B) of
        B -> B;
        _ -> printed(B)
    end;
jsonable(L) when is_list(L) ->
    case is_proper(L) of
        true -> [jsonable(X) || X <- L];
        false -> printed(L)
    end;
jsonable(M) when is_map(M) ->
    maps:from_list([{key(K), jsonable(V)} || {K, V} <- maps:to_list(M)]);
jsonable({Tag, Value}) when is_atom(Tag) ->
    #{atom_to_binary(Tag) => jsonable(Value)};
jsonable(Other) ->
    printed(Other).

key(K) when is_binary(K) -> jsonable(K);
key(K) when is_atom(K) -> atom_to_binary(K);
key(K) -> printed(K).

is_proper([]) -> true;
is_proper([_ | T]) -> is_proper(T);
is_proper(_) -> false.

%% @doc `Term' printed on one line, as a binary.
-spec printed(term()) -> binary().
printed(Term) ->
    unicode:characters_to_binary(io_lib:format("~0tp", [Term])).
