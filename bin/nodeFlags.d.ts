/** See nodeFlags.js. */
export declare const NODE_FLAGS: string[];
