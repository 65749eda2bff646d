declare module 'jstat' {
  const jstat: {
    jStat: {
      normal: { inv(p: number, mean: number, sd: number): number };
      ztest(z: number, sides: 1 | 2): number;
    };
  };
  export default jstat;
}
