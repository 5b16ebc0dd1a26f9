import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigFileError, DEFAULT_CONFIG, loadConfig, parseConfig, UNSUPPORTED_LINK_MESSAGE } from '../src/index.js'
import { parseHjson } from '../src/internals.js'
import { identityFromConfig, limitsFromConfig } from '../src/start.js'
import { SEED1_KEY, SEED1_PEM } from './helpers.js'

function configError (text: string): ConfigFileError {
  try { parseConfig(text) } catch (err) {
    expect(err).toBeInstanceOf(ConfigFileError)
    return err as ConfigFileError
  }
  throw new Error('parseConfig accepted ' + text)
}

describe('parseConfig', () => {
  it('an empty object gives AXL\'s defaults', () => {
    const c = parseConfig('{}')
    expect(c).toMatchObject({ apiPort: 9002, bridgeAddr: '127.0.0.1', tcpPort: 7000, routerAddr: '', routerPort: 9003, a2aAddr: '', a2aPort: 9004, maxMessageSize: 16777216, maxConcurrentConns: 128, connReadTimeoutSecs: 60, connIdleTimeoutSecs: 300, peers: [], listen: [] })
    expect(c.warnings).toEqual([])
    expect(c.privateKeyPath).toBeUndefined()
  })

  it('reads every AXL key; a2a_port is honoured; zero values can be set', () => {
    const c = parseConfig(JSON.stringify({
      PrivateKeyPath: 'keys/private.pem', Peers: ['tcp://10.0.0.1:9001', 'ws://example.org:80/ygg'], Listen: ['tcp://0.0.0.0:9001'],
      AllowedPublicKeys: [SEED1_KEY.toUpperCase()], api_port: 0, bridge_addr: '::1', tcp_port: 7001, router_addr: 'http://127.0.0.1/',
      router_port: 9103, a2a_addr: ' http://localhost ', a2a_port: 9104, max_message_size: 0, max_concurrent_conns: 0,
      conn_read_timeout_secs: 0, conn_idle_timeout_secs: 0
    }), { baseDir: '/etc/axl' })
    expect(c).toMatchObject({
      privateKeyPath: '/etc/axl/keys/private.pem', peers: ['tcp://10.0.0.1:9001', 'ws://example.org:80/ygg'], listen: ['tcp://0.0.0.0:9001'],
      allowedPublicKeys: [SEED1_KEY], apiPort: 0, bridgeAddr: '::1', tcpPort: 7001, routerAddr: 'http://127.0.0.1', routerPort: 9103,
      a2aAddr: 'http://localhost', a2aPort: 9104, maxMessageSize: 0, maxConcurrentConns: 0, connReadTimeoutSecs: 0, connIdleTimeoutSecs: 0
    })
    const l = limitsFromConfig(c)
    expect(l.maxMessageSize).toBe(0)
    expect(l.readTimeoutMs).toBe(0x7fffffff) // 0 = no timeout
  })

  it('keys match case-insensitively like Go; unknown keys warn; ignored Yggdrasil keys are listed once', () => {
    const c = parseConfig('{"API_PORT": 9100, "Api_Port": 9101, "surprise": 1, "IfName": "none", "NodeInfo": {}}')
    expect(c.apiPort).toBe(9101)
    expect(c.warnings).toEqual([
      '"Api_Port" and "API_PORT" name the same key; the later one wins',
      'unknown key "surprise" ignored',
      'Yggdrasil keys ignored (as in AXL): IfName, NodeInfo'
    ])
  })

  it('null leaves the default (as Go does)', () => {
    expect(parseConfig('{"api_port": null}').apiPort).toBe(9002)
  })

  it('wrong types refuse with a ConfigFileError naming the key (AXL: silently drops every override)', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['{"api_port":"9012"}', 'api_port', /^api_port: expected an integer, got a string \("9012"\)$/],
      ['{"api_port": 70000}', 'api_port', /between 0 and 65535/],
      ['{"tcp_port": 1.5}', 'tcp_port', /integer/],
      ['{"max_concurrent_conns": -1}', 'max_concurrent_conns', /between 0/],
      ['{"max_message_size": 4294967296}', 'max_message_size', /4294967295/],
      ['{"conn_idle_timeout_secs": "5"}', 'conn_idle_timeout_secs', /seconds/],
      ['{"Peers": "tcp://a:1"}', 'Peers', /array of strings/],
      ['{"Peers": ["tcp://a:1", 5]}', 'Peers[1]', /expected a string/],
      ['{"AllowedPublicKeys": ["abcd"]}', 'AllowedPublicKeys[0]', /64-hex/],
      ['{"router_addr": "127.0.0.1"}', 'router_addr', /scheme/],
      ['{"router_addr": "http://127.0.0.1:9003"}', 'router_addr', /router_port/],
      ['{"PrivateKey": "abcd"}', 'PrivateKey', /./],
      ['{"recv_overflow": "sometimes"}', 'recv_overflow', /drop-oldest/],
      ['{"mcp_services": {"w": {"command": "x", "url": "http://y"}}}', 'mcp_services.w', /exactly one/],
      ['{"mcp_services": {"w": {"command": "x", "bogus": 1}}}', 'mcp_services.w.bogus', /unknown field/],
      ['{"mcp_services": {"w": "ftp://x"}}', 'mcp_services.w', /http/],
      ['{"a2a": "yes"}', 'a2a', /true, false or an object/],
      ['{"router_addr": "http://127.0.0.1", "mcp_services": {"w": "http://x"}}', 'mcp_services', /router_addr/],
      ['{"a2a_addr": "http://127.0.0.1", "a2a": true}', 'a2a', /a2a_addr/]
    ]
    for (const [text, key, msg] of cases) {
      const e = configError(text)
      expect(e.key, text).toBe(key)
      expect(e.message, text).toMatch(msg)
      expect(e.code).toBe('ERR_CONFIG')
    }
  })

  it('takes Yggdrasil\'s link types and options as yggdrasil-go reads them; refuses QUIC, SOCKS and unknown schemes', () => {
    const ok = ['tls://34.46.48.224:9001', 'tcp://[::1]:9001?key=' + 'ab'.repeat(32) + '&priority=3&password=secret&maxbackoff=30s',
      'ws://host/ygg', 'wss://host:443/ygg', 'unix:///tmp/s', 'tls://host:9001?sni=example.org', 'noise+tcp://127.0.0.1:9001']
    expect(parseConfig(JSON.stringify({ Peers: ok, Listen: ['tls://[::]:9001', 'unix:///tmp/l'] })).peers).toEqual(ok)
    for (const uri of ['quic://1.2.3.4:9001', 'socks://proxy:1080/1.2.3.4:9001', 'sockstls://proxy:1080/1.2.3.4:9001']) {
      const e = configError(JSON.stringify({ Peers: [uri] }))
      expect(e.message).toContain(UNSUPPORTED_LINK_MESSAGE)
      expect(e.key).toBe('Peers[0]')
    }
    expect(configError('{"Peers": ["tls://1.2.3.4:9001?priority=256"]}').message).toMatch(/priority must be 0\.\.255/)
    expect(configError(`{"Peers": ["tls://1.2.3.4:9001?password=${'x'.repeat(65)}"]}`).message).toMatch(/at most 64/)
    expect(configError('{"Peers": ["tls://1.2.3.4:9001?key=zz"]}').message).toMatch(/key= .*64 hex/)
    expect(configError('{"Peers": ["unix://"]}').message).toMatch(/socket path/)
    expect(configError('{"Listen": ["http://x:1"]}').message).toMatch(/unsupported link type "http:\/\/"/)
    expect(configError('{"Peers": ["tcp://1.2.3.4"]}').message).toMatch(/no port/)
  })

  it('malformed text refuses with the line and column', () => {
    const e = configError('{\n  "api_port": 9002\n  "tcp_port": }')
    expect(e.key).toBeUndefined()
    expect(e.message).toMatch(/^not valid JSON: unexpected "}": expected a value at line 3, column 15$/)
    expect(configError('[1, 2]').message).toMatch(/must be a JSON object/)
    expect(configError('').message).toMatch(/empty document/)
  })

  it('accepts comments and trailing commas (AXL\'s JSON half would drop every override)', () => {
    const c = parseConfig(`{
      // the API
      "api_port": 9012, /* block */
      "Peers": ["tcp://1.2.3.4:9001",],   # hash comment
    }`)
    expect(c.apiPort).toBe(9012)
    expect(c.peers).toEqual(['tcp://1.2.3.4:9001'])
  })

  it('reads an HJSON config as yggdrasil -genconf writes it', () => {
    const c = parseConfig(`
{
  # Your private key. DO NOT share this with anyone!
  PrivateKey: ${'01'.repeat(32)}${SEED1_KEY}
  Peers: [
    tcp://1.2.3.4:9001
    ws://5.6.7.8:80
  ]
  Listen: []
  AdminListen: unix:///var/run/yggdrasil.sock
  MulticastInterfaces: [
    {
      Regex: .*
      Beacon: true
      Port: 0
    }
  ]
  IfMTU: 65535
  api_port: 9012
  bridge_addr: 127.0.0.1
}`)
    expect(c.peers).toEqual(['tcp://1.2.3.4:9001', 'ws://5.6.7.8:80'])
    expect(c.apiPort).toBe(9012)
    expect(c.bridgeAddr).toBe('127.0.0.1')
    expect(c.privateKey).toBe('01'.repeat(32) + SEED1_KEY)
  })

  it('defaults are frozen and not shared between parses', () => {
    const c = parseConfig('{}')
    c.peers.push('tcp://x:1')
    expect(DEFAULT_CONFIG.peers).toEqual([])
    expect(parseConfig('{}').peers).toEqual([])
  })
})

describe('parseHjson', () => {
  it('handles the HJSON basics', () => {
    expect(parseHjson('a: 1\nb: two words  \nc: [1, 2,]\nd: "q\\n"\ne: \'s\'')).toEqual({ a: 1, b: 'two words', c: [1, 2], d: 'q\n', e: 's' })
    expect(parseHjson('{x: true # c\n y: null // c\n z: 1e3}')).toEqual({ x: true, y: null, z: 1000 })
    expect(parseHjson("{\n  t:\n    '''\n    line 1\n      line 2\n    '''\n}")).toEqual({ t: 'line 1\n  line 2' })
    expect(parseHjson('{"__proto__": 1}')).toEqual(JSON.parse('{"__proto__": 1}'))
    // a quoteless value runs to the end of the line, comments included (HJSON's rule)
    expect(parseHjson('u: tcp://h:1 # not a comment')).toEqual({ u: 'tcp://h:1 # not a comment' })
  })
})

describe('loadConfig and the identity', () => {
  it('PrivateKeyPath resolves against the config file\'s directory (AXL: the process CWD)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'axl-cfg-'))
    await writeFile(join(dir, 'private.pem'), SEED1_PEM)
    await writeFile(join(dir, 'node-config.json'), '{"PrivateKeyPath": "private.pem"}')
    const c = await loadConfig(join(dir, 'node-config.json'))
    expect(c.privateKeyPath).toBe(join(dir, 'private.pem'))
    const { identity, source } = await identityFromConfig(c)
    expect(identity.peerId).toBe(SEED1_KEY)
    expect(source).toBe('PrivateKeyPath')
  })

  it('a missing file or key file is a ConfigFileError', async () => {
    await expect(loadConfig('/nonexistent/node-config.json')).rejects.toThrow(/^read config \/nonexistent\/node-config.json: no such file or directory$/)
    const c = parseConfig('{"PrivateKeyPath": "/nonexistent/key.pem"}')
    await expect(identityFromConfig(c)).rejects.toMatchObject({ key: 'PrivateKeyPath', message: expect.stringMatching(/ENOENT|no such file/) })
  })

  it('PrivateKey (hex) gives the same identity as the PEM; neither gives an ephemeral one', async () => {
    const c = parseConfig(JSON.stringify({ PrivateKey: '01'.repeat(32) + SEED1_KEY }))
    expect((await identityFromConfig(c)).identity.peerId).toBe(SEED1_KEY)
    expect((await identityFromConfig(parseConfig('{}'))).source).toBe('ephemeral')
  })
})
