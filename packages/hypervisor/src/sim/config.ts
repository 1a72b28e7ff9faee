import type { DomainType } from "../hypervisor.js";

/**
 * The domain config a generated sim domain carries in its xl header: the
 * shape of libxl_domain_config as `xl` writes it (JSON), reduced to what
 * says what the domain is.
 */
export function makeDomainConfig(spec: {
  name: string;
  uuid: string;
  type: DomainType;
  memoryBytes: number;
  vcpus: number;
}): Record<string, unknown> {
  const memkb = spec.memoryBytes / 1024;
  return {
    c_info: { type: spec.type, name: spec.name, uuid: spec.uuid },
    b_info: {
      max_vcpus: spec.vcpus,
      avail_vcpus: Array.from({ length: spec.vcpus }, (_, i) => i),
      max_memkb: memkb,
      target_memkb: memkb,
      [`type.${spec.type}`]: spec.type === "hvm" ? { firmware: "bios" } : {},
    },
    on_poweroff: "destroy",
    on_reboot: "restart",
    on_crash: "destroy",
  };
}
