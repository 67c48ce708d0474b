// An error the API answers with an HTTP status and OpenAI's error object:
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "temperature", "code": null}}
// param names the request field at fault (null when none); code is a short machine-readable reason
// (e.g. "context_length_exceeded", "model_not_found") or null.
#pragma once
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace gptforge {

struct ApiError : std::runtime_error {
  ApiError(int status, std::string message, std::string param = "", std::string code = "",
           std::string type = "invalid_request_error")
      : std::runtime_error(message), status(status), param(std::move(param)), code(std::move(code)),
        type(std::move(type)) {}

  nlohmann::json to_json() const {
    nlohmann::json e = {{"message", what()}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
    if (!param.empty()) e["param"] = param;
    if (!code.empty()) e["code"] = code;
    return {{"error", e}};
  }

  int status;
  std::string param, code, type;
};

// 400 naming the field.
inline ApiError bad_field(const std::string& param, const std::string& message, const std::string& code = "") {
  return ApiError(400, message, param, code);
}

}  // namespace gptforge
