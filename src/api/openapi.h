// The OpenAPI document served at /openapi.json: docs/openapi.yaml converted to JSON.
//
// Scalars follow the YAML 1.2 core schema: a plain (unquoted) scalar that reads as null,
// a boolean, an integer or a float becomes that JSON type (`minimum: 1`, `required: true`);
// every quoted or block scalar, and every other plain scalar, stays a string ("1" stays
// "1"). Explicit core tags (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`) are honoured.
// `.inf` and `.nan` have no JSON form and stay strings.
//
// Thread-safety: a pure function; safe to call from any thread.
#pragma once

#include <string>

#include "scaigrid/iam/status.h"

namespace scaigrid::iam::api {

// Reads the YAML document at `yaml_path` and returns it as compact JSON text.
// Errors: kNotFound when the file cannot be read; kInvalidArgument when it is not valid
// YAML (with its line), its root is not a map, a map key is not a scalar, or it nests
// deeper than 256 levels or expands (through aliases) to more than a million nodes.
Result<std::string> OpenApiJsonFromYaml(const std::string& yaml_path);

}  // namespace scaigrid::iam::api
