// Test support for store code (tests only; not part of any library): equality and gtest
// printing for the rows, ops and changes of store.h, matchers for Status / Result, and a
// sample change that uses every op. store.h keeps its structs plain, so equality lives here.
//
// Thread-safety: pure functions.
#pragma once

#include <gmock/gmock.h>

#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>
#include <variant>

#include "scaigrid/iam/status.h"
#include "store/change_codec.h"
#include "store/store.h"

namespace scaigrid::iam::store {

inline auto Tie(const ModuleRow& r) {
  return std::tie(r.module, r.version, r.source, r.registered_at);
}
inline auto Tie(const ScopeRow& r) { return std::tie(r.scope, r.parent, r.name, r.created_at); }
inline auto Tie(const PrincipalRow& r) {
  return std::tie(r.principal, r.tenant, r.name, r.created_at);
}
inline auto Tie(const MemberRow& r) { return std::tie(r.group, r.member); }
inline auto Tie(const CustomRoleRow& r) {
  return std::tie(r.id, r.scope, r.name, r.description, r.permissions, r.version, r.created_at,
                  r.updated_at);
}
inline auto Tie(const BindingRow& r) {
  return std::tie(r.id, r.subject, r.role, r.scope, r.not_before, r.expires_at, r.justification,
                  r.created_by, r.created_at);
}
inline auto Tie(const ApiKeyRow& r) {
  return std::tie(r.id, r.owner, r.name, r.secret_hash, r.permissions, r.scope, r.expires_at,
                  r.created_at, r.revoked_at, r.created_by);
}
inline auto Tie(const SigningKeyRow& r) {
  return std::tie(r.kid, r.public_key, r.secret_key, r.created_at, r.retired_at);
}
inline auto Tie(const CapabilityTokenRow& r) {
  return std::tie(r.id, r.capability, r.resource, r.scope, r.visitor, r.issued_by, r.issued_at,
                  r.expires_at, r.revoked_at, r.revision, r.credential);
}
inline auto Tie(const ResourceRevocationRow& r) {
  return std::tie(r.capability, r.resource, r.scope, r.revoked_at, r.revoked_by, r.revision);
}
inline auto Tie(const RevokeCapabilityToken& o) { return std::tie(o.id, o.revoked_at); }
inline auto Tie(const DeleteScope& o) { return std::tie(o.scope); }
inline auto Tie(const DeletePrincipal& o) { return std::tie(o.principal); }
inline auto Tie(const DeleteCustomRole& o) { return std::tie(o.id); }
inline auto Tie(const DeleteBinding& o) { return std::tie(o.id); }
inline auto Tie(const RevokeApiKey& o) { return std::tie(o.id, o.revoked_at); }

template <typename T>
concept Tieable = requires(const T& t) {
  Tie(t);
};
template <typename T>
concept RowOp = requires(const T& t) {
  Tie(t.row);
};

template <Tieable T>
bool operator==(const T& a, const T& b) {
  return Tie(a) == Tie(b);
}
template <RowOp T>
bool operator==(const T& a, const T& b) {
  return Tie(a.row) == Tie(b.row);
}
inline bool operator==(const Change& a, const Change& b) {
  return a.ops == b.ops && a.actor == b.actor && a.request_id == b.request_id && a.at == b.at;
}

// gtest printing through the codec: a row prints as the op that puts it.
inline void PrintTo(const Change& c, std::ostream* os) { *os << EncodeChange(c); }
inline void PrintTo(const Op& op, std::ostream* os) { PrintTo(Change{.ops = {op}}, os); }
inline void PrintTo(const ModuleRow& r, std::ostream* os) { PrintTo(Op(PutModule{r}), os); }
inline void PrintTo(const ScopeRow& r, std::ostream* os) { PrintTo(Op(PutScope{r}), os); }
inline void PrintTo(const PrincipalRow& r, std::ostream* os) { PrintTo(Op(PutPrincipal{r}), os); }
inline void PrintTo(const MemberRow& r, std::ostream* os) { PrintTo(Op(AddMember{r}), os); }
inline void PrintTo(const CustomRoleRow& r, std::ostream* os) { PrintTo(Op(PutCustomRole{r}), os); }
inline void PrintTo(const BindingRow& r, std::ostream* os) { PrintTo(Op(PutBinding{r}), os); }
inline void PrintTo(const ApiKeyRow& r, std::ostream* os) { PrintTo(Op(PutApiKey{r}), os); }

// EXPECT_THAT(status_or_result, IsOk()) and StatusIs(StatusCode::kNotFound, HasSubstr("42")).
MATCHER(IsOk, "is ok") {
  if constexpr (std::is_same_v<std::remove_cvref_t<decltype(arg)>, Status>) {
    *result_listener << arg.ToString();
    return arg.ok();
  } else {
    if (!arg.has_value()) *result_listener << arg.error().ToString();
    return arg.has_value();
  }
}

MATCHER_P2(StatusIs, code, message_matcher,
           std::string("has code ") + std::string(StatusCodeName(code))) {
  const Status* status = nullptr;
  if constexpr (std::is_same_v<std::remove_cvref_t<decltype(arg)>, Status>) {
    status = &arg;
  } else {
    if (arg.has_value()) {
      *result_listener << "is ok";
      return false;
    }
    status = &arg.error();
  }
  *result_listener << status->ToString();
  return status->code() == code &&
         ::testing::ExplainMatchResult(message_matcher, status->message(), result_listener);
}

// A binding with every field set, for tests that only care about ids.
inline BindingRow SampleBinding(BindingId id, std::string subject = "user:alice") {
  return BindingRow{.id = id,
                    .subject = std::move(subject),
                    .role = "iam:viewer",
                    .scope = "tenant:acme",
                    .not_before = 1000,
                    .expires_at = 2000,
                    .justification = "ticket 7",
                    .created_by = "user:root",
                    .created_at = 900};
}

// One change using every op, every field set to a non-default value, extreme values included.
inline Change SampleChangeWithEveryOp() {
  Change c{.actor = "user:root", .request_id = "req-1", .at = 1700000000};
  c.ops.push_back(PutModule{{.module = "llm",
                             .version = 3,
                             .source = "module: llm\nkeys:\n  - \"llm:chat\"\n",
                             .registered_at = 1}});
  c.ops.push_back(
      PutScope{{.scope = "tenant:acme", .parent = "platform", .name = "Acme", .created_at = 2}});
  c.ops.push_back(DeleteScope{"project:old"});
  c.ops.push_back(PutPrincipal{
      {.principal = "group:eng", .tenant = "tenant:acme", .name = "Engineering", .created_at = 3}});
  c.ops.push_back(DeletePrincipal{"service_account:gone"});
  c.ops.push_back(AddMember{{.group = "group:eng", .member = "user:alice"}});
  c.ops.push_back(RemoveMember{{.group = "group:eng", .member = "user:bob"}});
  c.ops.push_back(PutCustomRole{{.id = "role_1",
                                 .scope = "tenant:acme",
                                 .name = "Reader",
                                 .description = "reads \"things\" \\ tabs\t",
                                 .permissions = {"llm:chat", "iam:*"},
                                 .version = std::numeric_limits<std::uint64_t>::max(),
                                 .created_at = 4,
                                 .updated_at = 5}});
  c.ops.push_back(DeleteCustomRole{"role_0"});
  c.ops.push_back(PutBinding{{.id = std::numeric_limits<BindingId>::max(),
                              .subject = "user:alice",
                              .role = "custom:role_1",
                              .scope = "tenant:acme",
                              .not_before = kTimeMin,
                              .expires_at = kTimeMax,
                              .justification = "ünïcødé ✓",
                              .created_by = "user:root",
                              .created_at = -1}});
  c.ops.push_back(DeleteBinding{7});
  c.ops.push_back(PutApiKey{{.id = "key_3f9a",
                             .owner = "service_account:ci",
                             .name = "ci",
                             .secret_hash = std::string("raw\xff\x00bytes", 10),
                             .permissions = {},
                             .scope = "",
                             .expires_at = kTimeMax,
                             .created_at = 6,
                             .revoked_at = 0,
                             .created_by = "user:root"}});
  c.ops.push_back(RevokeApiKey{.id = "key_old", .revoked_at = kTimeMin});
  c.ops.push_back(PutSigningKey{{.kid = "capk_1", .public_key = "cHVi", .secret_key = "c2Vj", .created_at = 7, .retired_at = 0}});
  c.ops.push_back(PutCapabilityToken{{.id = "cap_1",
                                      .capability = "scaibot:chat",
                                      .resource = "bot:b-42",
                                      .scope = "tenant:acme",
                                      .visitor = "visitor:v-7",
                                      .issued_by = "user:alice",
                                      .issued_at = 8,
                                      .expires_at = 9,
                                      .revoked_at = 0,
                                      .revision = 12,
                                      .credential = "key_alice"}});
  c.ops.push_back(RevokeCapabilityToken{.id = "cap_0", .revoked_at = 10});
  c.ops.push_back(PutResourceRevocation{{.capability = "scaibot:chat", .resource = "bot:b-41", .scope = "tenant:acme", .revoked_at = 11, .revoked_by = "user:bob", .revision = 13}});
  return c;
}

}  // namespace scaigrid::iam::store
