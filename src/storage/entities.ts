import { CrossCheckEntity } from '../cross-checks/cross-check.entity';
import { Meta } from './meta.entity';
import { MODEL_ENTITIES } from './model.entities';
import { UPCALL_ENTITIES } from '../upcalls/upcall.entity';

/** Every entity of the service; feature modules add theirs here so the CLI sees them too. */
export const ENTITIES = [Meta, ...MODEL_ENTITIES, CrossCheckEntity, ...UPCALL_ENTITIES];
