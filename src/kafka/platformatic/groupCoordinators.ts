import type { PlatformaticAdminSurface } from './platformaticAdmin.ts';
import type { GroupCoordinators } from './platformaticTransaction.ts';

/**
 * The coordinator node of each consumer group, looked up once through one admin (connected on
 * first use, shared by the client's transactional producers) and cached until `forget`: a
 * transaction commits its consumer offsets to the group's coordinator, which @platformatic/kafka
 * otherwise learns only from a consumer of its own.
 *
 * @example
 *   const coordinators = createGroupCoordinators(() => createPlatformaticAdmin(options));
 *   await coordinators.nodeOf('sluice-clickstream'); // 1
 */
export function createGroupCoordinators(createAdmin: () => PlatformaticAdminSurface): GroupCoordinators {
  let admin: Promise<PlatformaticAdminSurface> | undefined;
  const nodes = new Map<string, Promise<number>>();
  const connected = () => {
    admin ??= (async () => {
      const a = createAdmin();
      await a.connect();
      return a;
    })();
    admin.catch(() => {
      admin = undefined;
    });
    return admin;
  };
  return {
    nodeOf(groupId) {
      let node = nodes.get(groupId);
      if (!node) {
        node = connected().then((a) => a.findGroupCoordinator(groupId));
        nodes.set(groupId, node);
        node.catch(() => nodes.delete(groupId));
      }
      return node;
    },
    forget(groupId) {
      nodes.delete(groupId);
    },
  };
}
