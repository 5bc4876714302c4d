%% @doc aion's logging: every log event emitted from a workflow's or an activity's process
%% names its workflow in what the default formatter prints.
%%
%% Run and activity processes set logger process metadata (`workflow_id', and `activity'
%% and `attempt' for an attempt), which the default formatter does not print. A primary
%% filter, installed while the application runs, copies them into the event itself: into a
%% report (a map), or as a `[workflow_id=...]' prefix of a format string. Events of
%% other processes pass untouched. So do the events of workflow and activity code written
%% by users: a log line from inside a workflow says which one.
%%
%% For production, route aion's events (their metadata holds `aion => engine | workflow |
%% cluster | activity') where they belong; see README "Logs".
-module(aion_log).

-export([install/0, uninstall/0, filter/2]).

-define(FILTER, aion_workflow_ids).

%% @doc Installs the filter (at application start; idempotent).
-spec install() -> ok.
install() ->
    _ = logger:remove_primary_filter(?FILTER),
    ok = logger:add_primary_filter(?FILTER, {fun ?MODULE:filter/2, []}).

%% @doc Removes the filter (at application stop).
-spec uninstall() -> ok.
uninstall() ->
    _ = logger:remove_primary_filter(?FILTER),
    ok.

%% @private The filter: adds the workflow id (and activity, attempt) from the event's
%% metadata to what is printed.
-spec filter(logger:log_event(), term()) -> logger:filter_return().
filter(Event = #{meta := #{workflow_id := Id, aion := _} = Meta, msg := Msg}, _)
        when is_binary(Id) ->
    %% Only aion's processes (their metadata says `aion => ...'), and only an id that is
    %% text: another application's `workflow_id' metadata is none of aion's business.
    case unicode:characters_to_binary(Id) of
        Id ->
            Extra = maps:with([workflow_id, activity, attempt], Meta),
            Event#{msg := with_ids(Msg, Id, Extra)};
        _ ->
            Event
    end;
filter(Event, _) ->
    Event.

with_ids({report, Report}, _Id, Extra) when is_map(Report) ->
    {report, maps:merge(Extra, Report)};
with_ids({report, Report}, _Id, Extra) when is_list(Report) ->
    {report, [Pair || Pair <- maps:to_list(Extra), not lists:keymember(element(1, Pair), 1, Report)]
             ++ Report};
with_ids({string, String}, Id, _Extra) ->
    {"[workflow_id=~ts] ~ts", [Id, String]};
with_ids({Format, Args}, Id, _Extra) when is_list(Format) ->
    {"[workflow_id=~ts] " ++ Format, [Id | Args]};
with_ids(Msg, _Id, _Extra) ->
    Msg.
