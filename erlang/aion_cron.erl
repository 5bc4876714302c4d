%% @doc Five-field cron expressions, for schedules (`aion_schedule').
%%
%% `minute hour day-of-month month day-of-week', each field a comma-separated list of
%% `*', `N', `N-M', `*/S', `N-M/S' or `N/S' (from N to the field's end, every S). Months
%% may be written `jan'..`dec', days of the week `sun'..`sat' (0 and 7 are both Sunday).
%% When both day fields are restricted a day matches either (as in Vixie cron); otherwise
%% it must match both. `@yearly' (`@annually'), `@monthly', `@weekly', `@daily'
%% (`@midnight') and `@hourly' stand for their usual expressions.
%%
%% Times are Unix milliseconds; the expression is read in UTC moved by a fixed offset in
%% minutes (`+05:30' is 330), so `0 9 * * *' with offset 120 fires at 07:00 UTC. Slots are
%% whole minutes. `next/2' finds the first slot after a time, `count/3' the number of
%% slots in a span without visiting each (a year of a five-minute cron is 365 day sums).
-module(aion_cron).

-export([parse/2]).
-export([parse_offset/1]).
-export([every/1]).
-export([next/2]).
-export([count/3]).

-export_type([cron/0]).

-record(cron, {minutes :: [0..59], hours :: [0..23], doms :: [1..31], months :: [1..12],
               dows :: [0..6], dom_any :: boolean(), dow_any :: boolean(),
               offset :: integer()}).
-opaque cron() :: #cron{} | {every, pos_integer()}.

-define(MINUTE, 60000).
-define(DAY, 86400000).
%% Gregorian seconds of 1970-01-01T00:00:00.
-define(EPOCH, 62167219200).
%% `next/2' gives up after this many jumps (an expression such as `0 0 30 2 *' never fires).
-define(MAX_STEPS, 20000).

%% @doc Parses `Expr' with a UTC offset of `OffsetMinutes'. Errors name the field:
%% `{field, Name, Text}' (a value out of range or unreadable), `{fields, N}' (not five
%% fields), `never' (no time ever matches, such as the 30th of February).
-spec parse(binary(), integer()) -> {ok, cron()} | {error, term()}.
parse(Expr, OffsetMinutes) when is_binary(Expr), is_integer(OffsetMinutes),
                                abs(OffsetMinutes) < 24 * 60 ->
    case unicode:characters_to_binary(Expr) =:= Expr of
        true -> parse_text(Expr, OffsetMinutes);
        false -> {error, not_utf8}
    end;
parse(_Expr, OffsetMinutes) when is_integer(OffsetMinutes) ->
    {error, not_a_binary};
parse(_Expr, _OffsetMinutes) ->
    {error, bad_offset}.

parse_text(Expr, OffsetMinutes) ->
    case string:lexemes(macro(string:lowercase(string:trim(Expr))), " \t") of
        [Mi, H, Dom, Mo, Dow] ->
            Fields = [{minute, Mi, 0, 59}, {hour, H, 0, 23}, {day_of_month, Dom, 1, 31},
                      {month, Mo, 1, 12}, {day_of_week, Dow, 0, 7}],
            try [field(Name, Text, Lo, Hi) || {Name, Text, Lo, Hi} <- Fields] of
                [Minutes, Hours, Doms, Months, Dows] ->
                    Cron = #cron{minutes = Minutes, hours = Hours, doms = Doms, months = Months,
                                 dows = lists:usort([D rem 7 || D <- Dows]),
                                 dom_any = starred(Dom), dow_any = starred(Dow),
                                 offset = OffsetMinutes * ?MINUTE},
                    case next(Cron, 0) of
                        none -> {error, never};
                        _ -> {ok, Cron}
                    end
            catch
                throw:{bad_field, Name, Text} -> {error, {field, Name, Text}}
            end;
        Parts ->
            {error, {fields, length(Parts)}}
    end.

%% @doc Reads a UTC offset `<<"+HH:MM">>' or `<<"-HH:MM">>' (or `<<"Z">>') as minutes.
-spec parse_offset(binary()) -> {ok, integer()} | error.
parse_offset(<<"Z">>) ->
    {ok, 0};
parse_offset(<<Sign, H1, H2, $:, M1, M2>>) when Sign =:= $+; Sign =:= $- ->
    try {binary_to_integer(<<H1, H2>>), binary_to_integer(<<M1, M2>>)} of
        {H, M} when H >= 0, H < 24, M >= 0, M < 60 ->
            Minutes = H * 60 + M,
            {ok, case Sign of $+ -> Minutes; $- -> -Minutes end};
        _ -> error
    catch
        error:badarg -> error
    end;
parse_offset(_) ->
    error.

%% A day field that starts with `*' (`*', `*/2') does not restrict the day in the sense
%% of the either-day rule (as in Vixie cron).
starred(<<"*", _/binary>>) -> true;
starred(_) -> false.

macro(<<"@yearly">>) -> <<"0 0 1 1 *">>;
macro(<<"@annually">>) -> <<"0 0 1 1 *">>;
macro(<<"@monthly">>) -> <<"0 0 1 * *">>;
macro(<<"@weekly">>) -> <<"0 0 * * 0">>;
macro(<<"@daily">>) -> <<"0 0 * * *">>;
macro(<<"@midnight">>) -> <<"0 0 * * *">>;
macro(<<"@hourly">>) -> <<"0 * * * *">>;
macro(Expr) -> Expr.

field(Name, Text, Lo, Hi) ->
    Values = lists:usort(lists:append([item(Name, Item, Lo, Hi)
                                       || Item <- binary:split(Text, <<",">>, [global])])),
    Values =:= [] andalso throw({bad_field, Name, Text}),
    Values.

item(Name, Item, Lo, Hi) ->
    {Range, Step} = case binary:split(Item, <<"/">>) of
        [R] -> {R, 1};
        [R, S] -> {R, number(Name, S, 1, Hi - Lo + 1, Item)}
    end,
    {From, To} = case binary:split(Range, <<"-">>) of
        [<<"*">>] -> {Lo, Hi};
        [A] when Step =:= 1 -> V = number(Name, A, Lo, Hi, Item), {V, V};
        [A] -> {number(Name, A, Lo, Hi, Item), Hi};
        [A, B] -> {number(Name, A, Lo, Hi, Item), number(Name, B, Lo, Hi, Item)}
    end,
    From =< To orelse throw({bad_field, Name, Item}),
    lists:seq(From, To, Step).

number(Name, Text, Lo, Hi, Item) ->
    V = case name_value(Name, Text) of
        undefined ->
            try binary_to_integer(Text) catch error:badarg -> throw({bad_field, Name, Item}) end;
        N ->
            N
    end,
    (V >= Lo andalso V =< Hi) orelse throw({bad_field, Name, Item}),
    V.

name_value(month, Text) ->
    index(Text, [<<"jan">>, <<"feb">>, <<"mar">>, <<"apr">>, <<"may">>, <<"jun">>, <<"jul">>,
                 <<"aug">>, <<"sep">>, <<"oct">>, <<"nov">>, <<"dec">>], 1);
name_value(day_of_week, Text) ->
    index(Text, [<<"sun">>, <<"mon">>, <<"tue">>, <<"wed">>, <<"thu">>, <<"fri">>, <<"sat">>], 0);
name_value(_, _) ->
    undefined.

index(_Text, [], _N) -> undefined;
index(Text, [Text | _], N) -> N;
index(Text, [_ | Rest], N) -> index(Text, Rest, N + 1).

%% @doc Slots every `Ms' milliseconds instead of an expression: the multiples of `Ms'
%% since the Unix epoch (`next/2' and `count/3' take either).
-spec every(pos_integer()) -> cron().
every(Ms) when is_integer(Ms), Ms > 0 ->
    {every, Ms}.

%% @doc The first slot strictly after `AfterMs', or `none' if the expression never fires
%% again.
-spec next(cron(), integer()) -> integer() | none.
next({every, Ms}, AfterMs) ->
    (floor_div(AfterMs, Ms) + 1) * Ms;
next(Cron = #cron{offset = Offset}, AfterMs) ->
    %% Work in local minutes; the first candidate is the next whole minute.
    Local = floor_div(AfterMs + Offset, ?MINUTE) + 1,
    case seek(Cron, Local, ?MAX_STEPS) of
        none -> none;
        Minute -> Minute * ?MINUTE - Offset
    end.

seek(_Cron, _Minute, 0) ->
    none;
seek(Cron, Minute, Steps) ->
    {{Y, Mo, _} = Date, {H, Mi, _}} = calendar:gregorian_seconds_to_datetime(Minute * 60 + ?EPOCH),
    DayStart = Minute - H * 60 - Mi,
    case lists:member(Mo, Cron#cron.months) of
        false ->
            {Y1, Mo1} = case Mo of 12 -> {Y + 1, 1}; _ -> {Y, Mo + 1} end,
            seek(Cron, day_minute({Y1, Mo1, 1}), Steps - 1);
        true ->
            case day_matches(Cron, Date) of
                false ->
                    seek(Cron, DayStart + 1440, Steps - 1);
                true ->
                    case first_at_least(H, Cron#cron.hours) of
                        none -> seek(Cron, DayStart + 1440, Steps - 1);
                        H when Mi > 0 ->
                            case first_at_least(Mi, Cron#cron.minutes) of
                                none -> seek(Cron, DayStart + (H + 1) * 60, Steps - 1);
                                M -> DayStart + H * 60 + M
                            end;
                        H1 ->
                            DayStart + H1 * 60 + hd(Cron#cron.minutes)
                    end
            end
    end.

%% @doc How many slots lie in `(FromMs, ToMs]'. Whole days are summed, not visited: the
%% cost grows with the number of days, not of slots.
-spec count(cron(), integer(), integer()) -> non_neg_integer().
count(_Cron, FromMs, ToMs) when ToMs =< FromMs ->
    0;
count({every, Ms}, FromMs, ToMs) ->
    floor_div(ToMs, Ms) - floor_div(FromMs, Ms);
count(Cron = #cron{offset = Offset}, FromMs, ToMs) ->
    %% The first local midnight after FromMs, as Unix ms.
    FirstDay = (floor_div(FromMs + Offset, ?DAY) + 1) * ?DAY - Offset,
    LastDay = floor_div(ToMs + Offset, ?DAY) * ?DAY - Offset,
    case FirstDay > LastDay of
        true ->
            visit(Cron, FromMs, ToMs, 0);
        false ->
            PerDay = length(Cron#cron.hours) * length(Cron#cron.minutes),
            Days = [D || D <- lists:seq(FirstDay, LastDay - ?DAY, ?DAY),
                         day_matches(Cron, local_date(D + Offset))],
            visit(Cron, FromMs, FirstDay - 1, 0) + PerDay * length(Days)
                + visit(Cron, LastDay - 1, ToMs, 0)
    end.

%% Counts slots in (From, To] one by one (at most a day's worth).
visit(Cron, From, To, N) ->
    case next(Cron, From) of
        T when is_integer(T), T =< To -> visit(Cron, T, To, N + 1);
        _ -> N
    end.

day_matches(Cron = #cron{dom_any = DomAny, dow_any = DowAny}, {_Y, Mo, D} = Date) ->
    lists:member(Mo, Cron#cron.months) andalso
        begin
            Dom = lists:member(D, Cron#cron.doms),
            Dow = lists:member(calendar:day_of_the_week(Date) rem 7, Cron#cron.dows),
            case {DomAny, DowAny} of
                {false, false} -> Dom orelse Dow;
                _ -> Dom andalso Dow
            end
        end.

local_date(LocalMs) ->
    {Date, _} = calendar:gregorian_seconds_to_datetime(floor_div(LocalMs, 1000) + ?EPOCH),
    Date.

day_minute(Date) ->
    (calendar:datetime_to_gregorian_seconds({Date, {0, 0, 0}}) - ?EPOCH) div 60.

first_at_least(_X, []) -> none;
first_at_least(X, [V | _]) when V >= X -> V;
first_at_least(X, [_ | Rest]) -> first_at_least(X, Rest).

floor_div(A, B) when A >= 0 -> A div B;
floor_div(A, B) -> -((-A + B - 1) div B).
