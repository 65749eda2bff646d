export interface BuildList {
  registry: string;
  owner: string;
  tagPattern: string;
  images: {
    service: string;
    name: string;
  }[];
}
export interface ImageRef {
  ref: string;
  where: string;
}
/** Every `image:` of a container in the YAML documents, with the object it sits in. */
export declare function imageRefs(yamlText: string): ImageRef[];
/** Splits `registry/owner/name:tag@digest` into repository and tag (no tag: ''). */
export declare function splitRef(ref: string): {
  repository: string;
  tag: string;
  digest: string;
};
/** Problems (empty when fine) and the external images, for a set of references. */
export declare function checkRefs(
  refs: ImageRef[],
  list: BuildList,
): {
  problems: string[];
  external: string[];
};
//# sourceMappingURL=check-image-refs.d.ts.map
