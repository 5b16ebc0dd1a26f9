/**
 * A NAT lab of network namespaces made by the test (needs root, iproute2 and iptables):
 *
 *   hA 10.1.0.2 ── lan 10.1.0.1 [rA: MASQUERADE] 198.18.0.2 ──┐
 *                                                             br0 198.18.0.1 [pub: the relay]
 *   hB 10.2.0.2 ── lan 10.2.0.1 [rB: MASQUERADE] 198.18.0.3 ──┘
 *
 * Each router masquerades its private network behind its public address and drops new connections from the
 * public side into it (no port forwarded), as a home router does. Addresses exist only inside these
 * namespaces (198.18.0.0/15 is the benchmarking range, 10.0.0.0/8 private); nothing touches the host's network.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'

/** Why the lab cannot be built here, or undefined when it can. */
export function natLabUnavailableReason (): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (`ip`) is not installed'
  if (spawnSync('iptables', ['--version']).status !== 0) return 'iptables is not installed (scripts/install-system-tools.sh installs it with apt-get)'
  const probe = `axlprobe-${randomBytes(3).toString('hex')}`
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' })
  if (r.status !== 0) return `cannot create a network namespace: ${r.stderr.trim()}`
  const nat = spawnSync('ip', ['netns', 'exec', probe, 'iptables', '-t', 'nat', '-L'], { encoding: 'utf8' })
  spawnSync('ip', ['netns', 'del', probe])
  if (nat.status !== 0) return `iptables' nat table is not usable in a namespace: ${nat.stderr.trim()}`
  return undefined
}

/** The lab's namespaces and addresses. */
export interface NatLab {
  /** The public host's namespace (the relay runs here) and its address. */
  pub: string
  pubAddress: string
  /** The NATed hosts' namespaces, their private addresses, and their routers' public addresses. */
  hostA: string
  hostB: string
  privateA: string
  privateB: string
  publicA: string
  publicB: string
  /** Run a command inside a namespace; throws with its stderr on failure. */
  exec: (ns: string, cmd: string[]) => string
  /** Deletes every namespace (and so every interface) of the lab. */
  destroy: () => void
}

/** Builds the lab (about 20 `ip` commands); call destroy() when done, also on failure. */
export function buildNatLab (): NatLab {
  const tag = randomBytes(3).toString('hex')
  const ns = { pub: `axl-pub-${tag}`, rA: `axl-ra-${tag}`, rB: `axl-rb-${tag}`, hA: `axl-ha-${tag}`, hB: `axl-hb-${tag}` }
  const made: string[] = []
  const run = (args: string[]): string => {
    const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`)
    return r.stdout
  }
  const exec = (n: string, cmd: string[]): string => run(['ip', 'netns', 'exec', n, ...cmd])
  const destroy = (): void => { for (const n of made.splice(0)) spawnSync('ip', ['netns', 'del', n]) }
  try {
    for (const n of Object.values(ns)) { run(['ip', 'netns', 'add', n]); made.push(n); run(['ip', '-n', n, 'link', 'set', 'lo', 'up']) }
    run(['ip', '-n', ns.pub, 'link', 'add', 'br0', 'type', 'bridge'])
    run(['ip', '-n', ns.pub, 'addr', 'add', '198.18.0.1/24', 'dev', 'br0'])
    run(['ip', '-n', ns.pub, 'link', 'set', 'br0', 'up'])
    const side = (router: string, host: string, i: 1 | 2): void => {
      // veth names are global until moved: make them unique per lab.
      const [p, w, l, h] = ['p', 'w', 'l', 'h'].map(x => `ax${x}${i}${tag}`)
      run(['ip', 'link', 'add', p!, 'type', 'veth', 'peer', 'name', w!])
      run(['ip', 'link', 'set', p!, 'netns', ns.pub]); run(['ip', 'link', 'set', w!, 'netns', router])
      run(['ip', '-n', ns.pub, 'link', 'set', p!, 'master', 'br0']); run(['ip', '-n', ns.pub, 'link', 'set', p!, 'up'])
      run(['ip', '-n', router, 'link', 'set', w!, 'name', 'wan'])
      run(['ip', '-n', router, 'addr', 'add', `198.18.0.${i + 1}/24`, 'dev', 'wan']); run(['ip', '-n', router, 'link', 'set', 'wan', 'up'])
      run(['ip', 'link', 'add', l!, 'type', 'veth', 'peer', 'name', h!])
      run(['ip', 'link', 'set', l!, 'netns', router]); run(['ip', 'link', 'set', h!, 'netns', host])
      run(['ip', '-n', router, 'link', 'set', l!, 'name', 'lan'])
      run(['ip', '-n', router, 'addr', 'add', `10.${i}.0.1/24`, 'dev', 'lan']); run(['ip', '-n', router, 'link', 'set', 'lan', 'up'])
      run(['ip', '-n', host, 'link', 'set', h!, 'name', 'eth0'])
      run(['ip', '-n', host, 'addr', 'add', `10.${i}.0.2/24`, 'dev', 'eth0']); run(['ip', '-n', host, 'link', 'set', 'eth0', 'up'])
      run(['ip', '-n', host, 'route', 'add', 'default', 'via', `10.${i}.0.1`])
      exec(router, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
      exec(router, ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE'])
      // A home router: replies to connections from inside pass; nothing new comes in from the public side.
      exec(router, ['iptables', '-A', 'FORWARD', '-i', 'wan', '-o', 'lan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'])
      exec(router, ['iptables', '-A', 'FORWARD', '-i', 'wan', '-o', 'lan', '-j', 'DROP'])
    }
    side(ns.rA, ns.hA, 1)
    side(ns.rB, ns.hB, 2)
  } catch (e) {
    destroy()
    throw e
  }
  return {
    pub: ns.pub, pubAddress: '198.18.0.1', hostA: ns.hA, hostB: ns.hB,
    privateA: '10.1.0.2', privateB: '10.2.0.2', publicA: '198.18.0.2', publicB: '198.18.0.3',
    exec, destroy
  }
}
