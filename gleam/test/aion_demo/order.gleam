//// The demo order workflow: reserve stock, charge the card, ship. Each activity prints
//// what it does; the workflow returns a summary. Run it with `make demo`.

import aion/activity
import aion/error
import aion/json

/// The workflow: `{"order_id": String, "item": String, "amount": Int}` in, a summary out.
pub fn run(order: json.Json) -> Result(json.Json, String) {
  case steps(order) {
    Ok(summary) -> Ok(summary)
    Error(failure) -> Error(describe(failure))
  }
}

fn steps(order: json.Json) -> Result(json.Json, error.FlowError) {
  case activity.run(name: "reserve_stock", input: order) {
    Error(e) -> Error(e)
    Ok(reservation) ->
      case activity.run(name: "charge_card", input: order) {
        Error(e) -> Error(e)
        Ok(payment) ->
          case activity.run(name: "ship", input: order) {
            Error(e) -> Error(e)
            Ok(shipment) ->
              Ok(
                json.object([
                  #("reservation", reservation),
                  #("payment", payment),
                  #("shipment", shipment),
                ]),
              )
          }
      }
  }
}

fn describe(failure: error.FlowError) -> String {
  case failure {
    error.ActivityFailed(activity: activity, message: message, ..) ->
      activity <> " failed: " <> message
    error.ActivityTimeout(activity: activity, ..) -> activity <> " timed out"
    _ -> "the order could not be processed"
  }
}

/// Activity: reserves the item.
pub fn reserve_stock(order: json.Json) -> Result(json.Json, String) {
  let item = text(order, "item")
  say("  [activity] reserve_stock: reserving one " <> item)
  Ok(json.object([#("reserved", json.string(item))]))
}

/// Activity: charges the card.
pub fn charge_card(order: json.Json) -> Result(json.Json, String) {
  case json.get_int(order, "amount") {
    Ok(amount) -> {
      say(
        "  [activity] charge_card: charging " <> int_to_text(amount) <> " cents",
      )
      Ok(json.object([#("charged", json.int(amount))]))
    }
    Error(_) -> Error("order has no amount")
  }
}

/// Activity: ships the order.
pub fn ship(order: json.Json) -> Result(json.Json, String) {
  let id = text(order, "order_id")
  say("  [activity] ship: shipping order " <> id)
  Ok(json.object([#("tracking", json.string("TRK-" <> id))]))
}

fn text(order: json.Json, name: String) -> String {
  case json.get_string(order, name) {
    Ok(value) -> value
    Error(_) -> "?"
  }
}

@external(erlang, "aion_demo", "say")
fn say(line: String) -> Nil

@external(erlang, "erlang", "integer_to_binary")
fn int_to_text(value: Int) -> String
