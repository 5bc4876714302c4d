//// JSON values for workflow and activity inputs and results.
////
//// A `Json` is the same Erlang term aion stores: objects are maps with string keys, arrays
//// are lists, `null` is the atom `null`. Build values with the constructors below and read
//// them back with the `get_*` decoders, which return a `DecodeError` instead of crashing.
////
//// ## Examples
////
//// ```gleam
//// let order = json.object([#("id", json.int(7)), #("item", json.string("book"))])
//// assert Ok(7) = json.get_int(order, "id")
//// ```

/// A JSON value.
pub type Json

/// Why a JSON value could not be read as asked.
pub type DecodeError {
  /// `expected` was wanted at `path`, `found` is what was there.
  DecodeError(expected: String, found: String, path: List(String))
}

/// A JSON string.
@external(erlang, "aion_flow_gleam_ffi", "identity")
pub fn string(value: String) -> Json

/// A JSON integer.
@external(erlang, "aion_flow_gleam_ffi", "identity")
pub fn int(value: Int) -> Json

/// A JSON number with a fraction.
@external(erlang, "aion_flow_gleam_ffi", "identity")
pub fn float(value: Float) -> Json

/// `true` or `false`.
@external(erlang, "aion_flow_gleam_ffi", "identity")
pub fn bool(value: Bool) -> Json

/// `null`.
@external(erlang, "aion_flow_gleam_ffi", "null")
pub fn null() -> Json

/// A JSON array.
@external(erlang, "aion_flow_gleam_ffi", "identity")
pub fn array(items: List(Json)) -> Json

/// A JSON object; a later field replaces an earlier one with the same name.
@external(erlang, "aion_flow_gleam_ffi", "object")
pub fn object(fields: List(#(String, Json))) -> Json

/// The value of field `name` of an object.
@external(erlang, "aion_flow_gleam_ffi", "field")
pub fn field(value: Json, name: String) -> Result(Json, DecodeError)

/// The value as a string.
@external(erlang, "aion_flow_gleam_ffi", "as_string")
pub fn as_string(value: Json) -> Result(String, DecodeError)

/// The value as an integer.
@external(erlang, "aion_flow_gleam_ffi", "as_int")
pub fn as_int(value: Json) -> Result(Int, DecodeError)

/// The value as a float (integers are accepted and converted).
@external(erlang, "aion_flow_gleam_ffi", "as_float")
pub fn as_float(value: Json) -> Result(Float, DecodeError)

/// The value as a boolean.
@external(erlang, "aion_flow_gleam_ffi", "as_bool")
pub fn as_bool(value: Json) -> Result(Bool, DecodeError)

/// The value as a list of values.
@external(erlang, "aion_flow_gleam_ffi", "as_list")
pub fn as_list(value: Json) -> Result(List(Json), DecodeError)

/// Field `name` of an object, as a string.
pub fn get_string(value: Json, name: String) -> Result(String, DecodeError) {
  case field(value, name) {
    Ok(inner) -> within(as_string(inner), name)
    Error(e) -> Error(e)
  }
}

/// Field `name` of an object, as an integer.
pub fn get_int(value: Json, name: String) -> Result(Int, DecodeError) {
  case field(value, name) {
    Ok(inner) -> within(as_int(inner), name)
    Error(e) -> Error(e)
  }
}

/// Field `name` of an object, as a boolean.
pub fn get_bool(value: Json, name: String) -> Result(Bool, DecodeError) {
  case field(value, name) {
    Ok(inner) -> within(as_bool(inner), name)
    Error(e) -> Error(e)
  }
}

fn within(
  result: Result(a, DecodeError),
  name: String,
) -> Result(a, DecodeError) {
  case result {
    Ok(value) -> Ok(value)
    Error(DecodeError(expected: expected, found: found, path: path)) ->
      Error(DecodeError(expected: expected, found: found, path: [name, ..path]))
  }
}

/// The value as JSON text.
@external(erlang, "aion_flow_gleam_ffi", "to_text")
pub fn to_text(value: Json) -> String

/// Parses JSON text.
@external(erlang, "aion_flow_gleam_ffi", "from_text")
pub fn from_text(text: String) -> Result(Json, DecodeError)
