// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @dev The few cheatcodes of Hardhat's Solidity test runner (Foundry-compatible) these tests use.
/// forge-std is not on the npm registry in a usable version, so the interface is declared here.
interface Vm {
    function warp(uint256 timestamp) external;
    function prank(address sender) external;
    function sign(uint256 privateKey, bytes32 digest) external returns (uint8 v, bytes32 r, bytes32 s);
    function addr(uint256 privateKey) external returns (address);
    function chainId(uint256 newChainId) external;
}

Vm constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
