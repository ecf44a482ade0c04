// ArmApi: the ARM-shaped REST API over HTTP — an http::Handler that turns each request into an
// ArmRequest for the ControlPlane and its ArmResponse into JSON. coved serves it on plain HTTP
// on loopback (config arm_listen, default 127.0.0.1:7780); the `cove` CLI is its client.
//
// Bodies are limited to 4 MiB (413 with an ARM error body past that). Every answer carries
// Content-Type: application/json; charset=utf-8 and an x-ms-request-id.
//
// Thread-safety: Start() may be called from any server thread; the ControlPlane serialises
// writes.
#pragma once

#include "arm/control_plane.h"
#include "http/message.h"

namespace cove::arm {

class ArmApi final : public http::Handler {
 public:
  explicit ArmApi(ControlPlane& control_plane) : control_plane_(control_plane) {}
  http::ExchangePtr Start(http::Request request) override;

 private:
  ControlPlane& control_plane_;
};

}  // namespace cove::arm
