#include "store/change_codec.h"

#include <boost/json.hpp>
#include <concepts>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace scaigrid::iam::store {
namespace {

namespace json = boost::json;

// ---- One list of fields per row, op and change header, shared by the encoder and the decoder
// so that the two cannot drift apart. `R` is the type, const when encoding.

template <typename R, typename T>
concept Is = std::same_as<std::remove_const_t<R>, T>;

template <Is<ModuleRow> R, typename V>
void Fields(R& r, V& v) {
  v("module", r.module);
  v("version", r.version);
  v("source", r.source);
  v("registered_at", r.registered_at);
}

template <Is<ScopeRow> R, typename V>
void Fields(R& r, V& v) {
  v("scope", r.scope);
  v("parent", r.parent);
  v("name", r.name);
  v("created_at", r.created_at);
}

template <Is<PrincipalRow> R, typename V>
void Fields(R& r, V& v) {
  v("principal", r.principal);
  v("tenant", r.tenant);
  v("name", r.name);
  v("created_at", r.created_at);
}

template <Is<MemberRow> R, typename V>
void Fields(R& r, V& v) {
  v("group", r.group);
  v("member", r.member);
}

template <Is<CustomRoleRow> R, typename V>
void Fields(R& r, V& v) {
  v("id", r.id);
  v("scope", r.scope);
  v("name", r.name);
  v("description", r.description);
  v("permissions", r.permissions);
  v("version", r.version);
  v("created_at", r.created_at);
  v("updated_at", r.updated_at);
}

template <Is<BindingRow> R, typename V>
void Fields(R& r, V& v) {
  v("id", r.id);
  v("subject", r.subject);
  v("role", r.role);
  v("scope", r.scope);
  v("not_before", r.not_before);
  v("expires_at", r.expires_at);
  v("justification", r.justification);
  v("created_by", r.created_by);
  v("created_at", r.created_at);
}

template <Is<ApiKeyRow> R, typename V>
void Fields(R& r, V& v) {
  v("id", r.id);
  v("owner", r.owner);
  v("name", r.name);
  v("secret_hash", r.secret_hash);
  v("permissions", r.permissions);
  v("scope", r.scope);
  v("expires_at", r.expires_at);
  v("created_at", r.created_at);
  v("revoked_at", r.revoked_at);
  v("created_by", r.created_by);
}

template <Is<SigningKeyRow> R, typename V>
void Fields(R& r, V& v) {
  v("kid", r.kid);
  v("public_key", r.public_key);
  v("secret_key", r.secret_key);
  v("created_at", r.created_at);
  v("retired_at", r.retired_at);
}

template <Is<CapabilityTokenRow> R, typename V>
void Fields(R& r, V& v) {
  v("id", r.id);
  v("capability", r.capability);
  v("resource", r.resource);
  v("scope", r.scope);
  v("visitor", r.visitor);
  v("issued_by", r.issued_by);
  v("issued_at", r.issued_at);
  v("expires_at", r.expires_at);
  v("revoked_at", r.revoked_at);
  v("revision", r.revision);
  v("credential", r.credential);
}

template <Is<ResourceRevocationRow> R, typename V>
void Fields(R& r, V& v) {
  v("capability", r.capability);
  v("resource", r.resource);
  v("scope", r.scope);
  v("revoked_at", r.revoked_at);
  v("revoked_by", r.revoked_by);
  v("revision", r.revision);
}

// Ops holding a row flatten it.
template <typename O>
concept HasRow = requires(O& o) {
  o.row;
};

template <HasRow O, typename V>
void Fields(O& o, V& v) {
  Fields(o.row, v);
}

template <Is<DeleteScope> O, typename V>
void Fields(O& o, V& v) {
  v("scope", o.scope);
}

template <Is<DeletePrincipal> O, typename V>
void Fields(O& o, V& v) {
  v("principal", o.principal);
}

template <Is<DeleteCustomRole> O, typename V>
void Fields(O& o, V& v) {
  v("id", o.id);
}

template <Is<DeleteBinding> O, typename V>
void Fields(O& o, V& v) {
  v("id", o.id);
}

template <Is<RevokeApiKey> O, typename V>
void Fields(O& o, V& v) {
  v("id", o.id);
  v("revoked_at", o.revoked_at);
}

template <Is<RevokeCapabilityToken> O, typename V>
void Fields(O& o, V& v) {
  v("id", o.id);
  v("revoked_at", o.revoked_at);
}

// The change header (its ops are handled apart).
template <Is<Change> C, typename V>
void Fields(C& c, V& v) {
  v("at", c.at);
  v("actor", c.actor);
  v("request_id", c.request_id);
}

// ---- The "op" discriminator of each alternative of Op.

template <typename T>
constexpr std::string_view kOpName = "";
template <>
constexpr std::string_view kOpName<PutModule> = "put_module";
template <>
constexpr std::string_view kOpName<PutScope> = "put_scope";
template <>
constexpr std::string_view kOpName<DeleteScope> = "delete_scope";
template <>
constexpr std::string_view kOpName<PutPrincipal> = "put_principal";
template <>
constexpr std::string_view kOpName<DeletePrincipal> = "delete_principal";
template <>
constexpr std::string_view kOpName<AddMember> = "add_member";
template <>
constexpr std::string_view kOpName<RemoveMember> = "remove_member";
template <>
constexpr std::string_view kOpName<PutCustomRole> = "put_custom_role";
template <>
constexpr std::string_view kOpName<DeleteCustomRole> = "delete_custom_role";
template <>
constexpr std::string_view kOpName<PutBinding> = "put_binding";
template <>
constexpr std::string_view kOpName<DeleteBinding> = "delete_binding";
template <>
constexpr std::string_view kOpName<PutApiKey> = "put_api_key";
template <>
constexpr std::string_view kOpName<RevokeApiKey> = "revoke_api_key";
template <>
constexpr std::string_view kOpName<PutSigningKey> = "put_signing_key";
template <>
constexpr std::string_view kOpName<PutCapabilityToken> = "put_capability_token";
template <>
constexpr std::string_view kOpName<RevokeCapabilityToken> = "revoke_capability_token";
template <>
constexpr std::string_view kOpName<PutResourceRevocation> = "put_resource_revocation";

template <std::size_t... I>
constexpr bool EveryOpNamed(std::index_sequence<I...>) {
  return (!kOpName<std::variant_alternative_t<I, Op>>.empty() && ...);
}
static_assert(EveryOpNamed(std::make_index_sequence<std::variant_size_v<Op>>()),
              "every alternative of Op needs a kOpName");

// ---- Encoding.

json::array ToArray(const std::vector<std::string>& list) {
  json::array array;
  array.reserve(list.size());
  for (const std::string& s : list) array.emplace_back(s);
  return array;
}

class Encoder {
 public:
  explicit Encoder(json::object& out) : out_(out) {}

  void operator()(std::string_view key, const std::string& v) { out_[key] = v; }
  void operator()(std::string_view key, std::int64_t v) { out_[key] = v; }
  void operator()(std::string_view key, std::uint64_t v) { out_[key] = v; }
  void operator()(std::string_view key, int v) { out_[key] = v; }
  void operator()(std::string_view key, const std::vector<std::string>& v) {
    out_[key] = ToArray(v);
  }

 private:
  json::object& out_;
};

// ---- Decoding. Records the first problem; later calls are no-ops once one is recorded.

class Decoder {
 public:
  Decoder(const json::object& in, std::string where) : in_(in), where_(std::move(where)) {}

  void operator()(std::string_view key, std::string& out) {
    const json::value* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_string()) return Fail(key, "a string");
    out.assign(v->get_string().data(), v->get_string().size());
  }
  void operator()(std::string_view key, std::int64_t& out) {
    const json::value* v = Find(key);
    if (v == nullptr) return;
    if (v->is_int64()) {
      out = v->get_int64();
    } else if (v->is_uint64() &&
               v->get_uint64() <= std::uint64_t{std::numeric_limits<std::int64_t>::max()}) {
      out = static_cast<std::int64_t>(v->get_uint64());
    } else {
      Fail(key, "a 64-bit signed integer");
    }
  }
  void operator()(std::string_view key, std::uint64_t& out) {
    const json::value* v = Find(key);
    if (v == nullptr) return;
    if (v->is_uint64()) {
      out = v->get_uint64();
    } else if (v->is_int64() && v->get_int64() >= 0) {
      out = static_cast<std::uint64_t>(v->get_int64());
    } else {
      Fail(key, "a 64-bit unsigned integer");
    }
  }
  void operator()(std::string_view key, int& out) {
    std::int64_t wide = 0;
    (*this)(key, wide);
    if (!status_.ok()) return;
    if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
      return Fail(key, "a 32-bit integer");
    }
    out = static_cast<int>(wide);
  }
  void operator()(std::string_view key, std::vector<std::string>& out) {
    const json::value* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_array()) return Fail(key, "an array of strings");
    out.clear();
    out.reserve(v->get_array().size());
    for (const json::value& item : v->get_array()) {
      if (!item.is_string()) return Fail(key, "an array of strings");
      out.emplace_back(item.get_string().data(), item.get_string().size());
    }
  }

  const Status& status() const { return status_; }

 private:
  const json::value* Find(std::string_view key) {
    if (!status_.ok()) return nullptr;
    const json::value* v = in_.if_contains(key);
    if (v == nullptr) {
      status_ = Status::InvalidArgument(where_ + ": missing field \"" + std::string(key) + "\"");
    }
    return v;
  }
  void Fail(std::string_view key, std::string_view expected) {
    status_ = Status::InvalidArgument(where_ + ": field \"" + std::string(key) + "\" must be " +
                                      std::string(expected));
  }

  const json::object& in_;
  std::string where_;
  Status status_;
};

template <typename T>
Result<Op> DecodeOpAs(const json::object& in, const std::string& where) {
  T op;
  Decoder decoder(in, where);
  Fields(op, decoder);
  if (!decoder.status().ok()) return Err(decoder.status());
  return Op(std::move(op));
}

template <std::size_t... I>
Result<Op> DecodeOp(std::string_view name, const json::object& in, const std::string& where,
                    std::index_sequence<I...>) {
  std::optional<Result<Op>> op;
  (void)((name == kOpName<std::variant_alternative_t<I, Op>> &&
          (op.emplace(DecodeOpAs<std::variant_alternative_t<I, Op>>(
               in, where + " (" + std::string(name) + ")")),
           true)) ||
         ...);
  if (!op.has_value()) {
    return Err(Status::InvalidArgument(where + ": unknown op \"" + std::string(name) + "\""));
  }
  return *std::move(op);
}

Result<json::value> Parse(std::string_view text) {
  json::parse_options options;
  options.allow_invalid_utf8 = true;  // strings are bytes; EncodeChange writes them as they are
  boost::system::error_code ec;
  json::value value = json::parse(text, ec, {}, options);
  if (ec) return Err(Status::InvalidArgument("not valid json: " + ec.message()));
  return value;
}

Result<Change> DecodeChangeOrThrow(std::string_view text) {
  Result<json::value> root = Parse(text);
  if (!root) return Err(std::move(root).error());
  if (!root->is_object()) return Err(Status::InvalidArgument("change must be a json object"));
  const json::object& object = root->get_object();

  Change change;
  Decoder header(object, "change");
  Fields(change, header);
  if (!header.status().ok()) return Err(header.status());
  const json::value* ops = object.if_contains("ops");
  if (ops == nullptr || !ops->is_array()) {
    return Err(Status::InvalidArgument("change: field \"ops\" must be an array"));
  }
  change.ops.reserve(ops->get_array().size());
  for (std::size_t i = 0; i < ops->get_array().size(); ++i) {
    const json::value& item = ops->get_array()[i];
    const std::string where = "op " + std::to_string(i);
    if (!item.is_object()) return Err(Status::InvalidArgument(where + ": must be a json object"));
    const json::value* name = item.get_object().if_contains("op");
    if (name == nullptr || !name->is_string()) {
      return Err(Status::InvalidArgument(where + ": field \"op\" must be a string"));
    }
    const std::string_view op_name(name->get_string().data(), name->get_string().size());
    Result<Op> op = DecodeOp(op_name, item.get_object(), where,
                             std::make_index_sequence<std::variant_size_v<Op>>());
    if (!op) return Err(std::move(op).error());
    change.ops.push_back(*std::move(op));
  }
  return change;
}

}  // namespace

std::string EncodeChange(const Change& change) {
  json::object root;
  Encoder header(root);
  Fields(change, header);
  json::array& ops = root["ops"].emplace_array();
  ops.reserve(change.ops.size());
  for (const Op& op : change.ops) {
    json::object& out = ops.emplace_back(json::object()).get_object();
    std::visit(
        [&out](const auto& o) {
          out["op"] = kOpName<std::remove_cvref_t<decltype(o)>>;
          Encoder encoder(out);
          Fields(o, encoder);
        },
        op);
  }
  return json::serialize(root);
}

Result<Change> DecodeChange(std::string_view json) {
  try {
    return DecodeChangeOrThrow(json);
  } catch (const std::exception& e) {  // allocation failures inside Boost.JSON
    return Err(Status::Internal(std::string("decoding a change: ") + e.what()));
  }
}

std::string EncodeStringList(const std::vector<std::string>& list) {
  return json::serialize(ToArray(list));
}

Result<std::vector<std::string>> DecodeStringList(std::string_view json) {
  try {
    Result<json::value> root = Parse(json);
    if (!root) return Err(std::move(root).error());
    if (!root->is_array()) return Err(Status::InvalidArgument("not a json array of strings"));
    std::vector<std::string> list;
    list.reserve(root->get_array().size());
    for (const json::value& item : root->get_array()) {
      if (!item.is_string()) return Err(Status::InvalidArgument("not a json array of strings"));
      list.emplace_back(item.get_string().data(), item.get_string().size());
    }
    return list;
  } catch (const std::exception& e) {
    return Err(Status::Internal(std::string("decoding a string list: ") + e.what()));
  }
}

}  // namespace scaigrid::iam::store
