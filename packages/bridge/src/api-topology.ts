/** /topology (any method, as AXL): the overlay as this node sees it. */
import type { ApiRequest } from './api-context.js'
import { sendBody } from './http-response.js'
import { topologyJson } from './topology-json.js'

/** Handle /topology. */
export function handleTopology (r: ApiRequest): void {
  sendBody(r.res, 200, topologyJson(r.node.topology(), r.settings.rootParent), 'application/json')
}
