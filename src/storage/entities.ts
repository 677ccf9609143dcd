import { Meta } from './meta.entity';
import { MODEL_ENTITIES } from './model.entities';

/** Every entity of the service; feature modules add theirs here so the CLI sees them too. */
export const ENTITIES = [Meta, ...MODEL_ENTITIES];
