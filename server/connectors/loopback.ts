/** Whether an address is this machine's (a password in clear never leaves it). */
export const isLoopback = (address: string) => /^(::ffff:)?127\.\d+\.\d+\.\d+$/i.test(address) || /^(0{0,4}:){2,7}0{0,3}1$/.test(address) || address === "::1";
