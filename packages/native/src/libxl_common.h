// What the libxl binding and its stub share: error codes and the privcmd check.
#pragma once

#include <unistd.h>

#include <string>

namespace xf {

constexpr const char* kErrXenUnavailable = "XF_XEN_UNAVAILABLE";
constexpr const char* kErrLibxl = "XF_XEN_LIBXL_FAILED";

// The hypervisor's privileged-command device: present only in a Xen domain
// (dom0 with xenfs or the privcmd driver). Without it no libxl call can work.
inline bool HavePrivcmd() {
  return access("/dev/xen/privcmd", F_OK) == 0 || access("/proc/xen/privcmd", F_OK) == 0;
}

inline std::string NoPrivcmdReason() {
  return "no Xen hypervisor available: neither /dev/xen/privcmd nor /proc/xen/privcmd "
         "exists (not running in a Xen dom0)";
}

}  // namespace xf
