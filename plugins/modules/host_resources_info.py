#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_resources_info
short_description: Read a Linux host's disks, memory, load, CPU and busiest processes
description:
  - Reads, on the target host, the use of each filesystem that holds data (from C(/proc/self/mounts)), its memory
    and swap (from C(/proc/meminfo)), load averages, CPU count and uptime.
  - Lists the O(top) processes that used the most CPU over a sample of O(sample_seconds), and the O(top) that
    hold the most resident memory.
  - A process is shown by its name only (its C(comm), at most 15 characters), never by its arguments, which can
    hold passwords and tokens.
version_added: 0.1.0
author: runbook.ops maintainers (@runbook-ops)
extends_documentation_fragment:
  - runbook.ops.attributes
attributes:
  check_mode:
    support: full
    details: Read-only; it reads the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  top:
    description: How many processes to list by CPU and by memory. V(0) lists none and takes no sample.
    type: int
    default: 5
  sample_seconds:
    description: Seconds over which the processes' CPU use is measured, more than 0 and at most 60.
    type: float
    default: 0.5
notes:
  - Linux only; it reads C(/proc).
  - Pseudo filesystems (C(proc), C(sysfs), C(cgroup) and the like), memory-backed ones (C(tmpfs), C(devtmpfs),
    C(ramfs), whose use is memory) and read-only images (C(squashfs)) are left out of RV(disks). A filesystem
    mounted at several places (bind mounts) is listed once, at its shortest mount point.
  - A network filesystem whose server does not answer can make reading its use hang, as it makes C(df) hang.
  - Inside a container, memory and load are usually the whole machine's.
seealso:
  - module: ansible.builtin.setup
"""

EXAMPLES = r"""
- name: Read the host's resources
  runbook.ops.host_resources_info:
  register: resources

- name: Warn about full disks
  ansible.builtin.debug:
    msg: "{{ item.mount }} is {{ item.percent }} % full"
  loop: "{{ resources.disks | selectattr('percent', 'gt', 85) }}"

- name: The ten busiest processes over two seconds
  runbook.ops.host_resources_info:
    top: 10
    sample_seconds: 2
  register: resources
"""

RETURN = r"""
disks:
  description: Each filesystem that holds data, by mount point.
  returned: always
  type: list
  elements: dict
  contains:
    mount:
      description: Where it is mounted.
      type: str
      sample: /
    device:
      description: What is mounted, as C(/proc/self/mounts) names it.
      type: str
      sample: /dev/vda1
    fstype:
      description: Its filesystem type.
      type: str
      sample: ext4
    size_bytes:
      description: Its size.
      type: int
      sample: 52521566208
    used_bytes:
      description: How much is used.
      type: int
      sample: 20971520000
    free_bytes:
      description: How much users other than root may still fill.
      type: int
      sample: 28859768832
    percent:
      description: RV(disks[].used_bytes) as a percentage of what users may fill (used and free), as C(df) shows it.
      type: float
      sample: 42.1
    inodes_total:
      description: How many inodes it has; V(0) for a filesystem without a fixed number.
      type: int
    inodes_used:
      description: How many inodes are used.
      type: int
    inodes_percent:
      description: RV(disks[].inodes_used) as a percentage; null for a filesystem without a fixed number of inodes.
      type: float
      sample: 7.3
memory:
  description: Memory and swap.
  returned: always
  type: dict
  contains:
    total_bytes:
      description: The memory the kernel manages (C(MemTotal)).
      type: int
    available_bytes:
      description: What programs could still get without swapping (C(MemAvailable)).
      type: int
    used_bytes:
      description: RV(memory.total_bytes) less RV(memory.available_bytes).
      type: int
    used_percent:
      description: RV(memory.used_bytes) as a percentage of RV(memory.total_bytes).
      type: float
      sample: 63.2
    swap_total_bytes:
      description: The swap space; V(0) without swap.
      type: int
    swap_used_bytes:
      description: How much swap is used.
      type: int
    swap_used_percent:
      description: RV(memory.swap_used_bytes) as a percentage; V(0) without swap.
      type: float
load:
  description: The load averages over 1, 5 and 15 minutes.
  returned: always
  type: dict
  sample: {"1m": 0.42, "5m": 0.38, "15m": 0.3}
cpu_count:
  description: How many CPUs the host has.
  returned: always
  type: int
  sample: 4
uptime_seconds:
  description: Seconds since the host booted.
  returned: always
  type: float
  sample: 864000.5
processes:
  description: The busiest processes.
  returned: when O(top) is more than 0
  type: dict
  contains:
    count:
      description: How many processes were running at the end of the sample.
      type: int
    sampled_seconds:
      description: How long the sample took.
      type: float
      sample: 0.501
    cpu_busy_percent:
      description: How busy all CPUs were over the sample, 100 being all of them all the time.
      type: float
      sample: 12.5
    by_cpu:
      description:
        - The O(top) processes that used the most CPU over the sample, the busiest first; a process that used
          none is not listed.
        - Each has RV(processes.by_memory[].pid), RV(processes.by_memory[].name) and the other fields of
          RV(processes.by_memory).
      type: list
      elements: dict
    by_memory:
      description: The O(top) processes with the most resident memory, the largest first.
      type: list
      elements: dict
      contains:
        pid:
          description: Its process id.
          type: int
        name:
          description: Its name (C(comm)), never its arguments.
          type: str
          sample: postgres
        user:
          description: The account it runs as.
          type: str
          sample: postgres
        cpu_percent:
          description: CPU time used over the sample as a percentage of the sample; 100 is one CPU all the time.
          type: float
          sample: 97.8
        rss_bytes:
          description: Its resident memory.
          type: int
          sample: 268435456
        memory_percent:
          description: RV(processes.by_memory[].rss_bytes) as a percentage of RV(memory.total_bytes).
          type: float
          sample: 3.2
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.ops.plugins.module_utils._resources import gather

LONGEST_SAMPLE = 60


def main():
    module = AnsibleModule(
        argument_spec={
            "top": {"type": "int", "default": 5},
            "sample_seconds": {"type": "float", "default": 0.5},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["top"] < 0:
        module.fail_json(msg=f"top must be 0 or more, not {params['top']}.")
    if not 0 < params["sample_seconds"] <= LONGEST_SAMPLE:
        module.fail_json(msg=f"sample_seconds must be more than 0 and at most {LONGEST_SAMPLE}, "
                             f"not {params['sample_seconds']:g}.")
    try:
        gathered = gather(params["top"], params["sample_seconds"])
    except OSError as exc:
        module.fail_json(msg=f"Could not read the host's resources: {exc}. This module reads Linux's /proc.")

    module.exit_json(changed=False, **gathered)


if __name__ == "__main__":
    main()
